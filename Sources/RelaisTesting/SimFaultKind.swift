/// The fault a simulated schedule injects (docs/RELIABILITY.md). Schedule `n` of a run uses
/// `rotation[n % rotation.count]`, so every bounded run covers those kinds evenly.
public enum SimFaultKind: String, CaseIterable, Sendable {
    /// No fault: random edits and syncs only.
    case none
    /// Requests lost before they reach the hub.
    case dropRequest
    /// Answers lost after the hub handled (and committed) the request.
    case dropResponse
    /// Requests delivered twice.
    case duplicate
    /// Older pushes delivered again, out of order.
    case reorder
    /// Connections cut at a random byte, to or from the hub (a TCP proxy on loopback).
    case cutConnection
    /// Laptop clocks set to 2000 or 2040, or jumping backwards.
    case clockSkew
    /// A laptop restored from an old copy of its replica file.
    case backupRestore
    /// A replica file copied onto a second laptop that keeps working.
    case clone
    /// The hub runs as a child process (`relais-hub serve`), killed with SIGKILL at seeded moments
    /// while laptops push and pull (many while a push is being applied and committed), and restarted
    /// on the same data folder.
    case hubKill
    /// A laptop's sync runs as a child process (`relais sync`), killed with SIGKILL at a seeded
    /// moment (often while it applies a pull page); the file is then reopened in process.
    case laptopKill
    /// A full disk: the hub child restarted with a store ceiling (`--max-store-mb`) and laptops
    /// reopened with a file-size ceiling (`maxFileBytes`), later lifted.
    case diskFull
    /// All of the above at lower rates.
    case mixed
    /// Several laptops delete the same record (customers too, some revived by a concurrent edit or
    /// moved to another territory earlier), while the hub child is killed at seeded moments, most
    /// while a push is applied and committed.
    case deletes

    /// The kinds whose schedules `--schedules` runs in turn, as before the ``deletes`` kind joined,
    /// so that a schedule number replays the kind it was found with: schedule `n` uses
    /// `rotation[n % rotation.count]`; ``deletes`` is run by name (`relais-sim --kind deletes`).
    public static let rotation = allCases.filter { $0 != .deletes }
}
