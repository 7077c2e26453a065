/// What a user may do (DESIGN §1).
///
/// - ``rep``: a salesperson; sees and writes the customers of their territories (and those customers'
///   contacts and interactions); may not write hub-only fields.
/// - ``manager``: the same over several territories, and may write hub-only fields and move customers
///   between their territories.
/// - ``admin``: sees and writes everything; uses the admin API.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
    case rep
    case manager
    case admin

    /// Whether the role may write fields the schema marks `hub_only`.
    public var mayWriteHubOnlyFields: Bool { self != .rep }

    /// Whether the role sees every record whatever its territory.
    public var seesEverything: Bool { self == .admin }
}
