import ArgumentParser

/// `relais admin …`: the administrators' commands (`admin conflicts list|show|resolve`, DESIGN §8),
/// which talk to the hub's admin API with an admin token.
///
/// Built separately; not registered in ``Relais`` until its subcommands exist.
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Administration through the hub's admin API (conflict reports).",
        subcommands: [])
}
