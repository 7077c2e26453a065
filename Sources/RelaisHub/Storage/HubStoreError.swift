/// A failure of the hub's store (SQLite or PostgreSQL): busy, full, missing, too new, or broken.
///
/// Store failures are kept apart from the requests the hub refuses (``HubError``): a store throws only
/// these (and the ``HubError`` a transaction's body throws, which it passes on untouched). At the HTTP
/// edge each becomes the answer ``HubError/init(answering:)`` names: ``unavailable`` a 503
/// `unavailable`, ``storageFull`` a 507 `storage_full`, every other one a 500 `internal` whose detail
/// stays in the hub's log. Compare by code, as with every error of the hub:
///
/// ```swift
/// catch let error as HubStoreError where error == .unavailable { ... }
/// ```
public struct HubStoreError: Error, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private enum Code: String, Sendable {
        case unavailable
        case storageFull = "storage_full"
        case exists = "store_exists"
        case missing = "store_missing"
        case tooNew = "store_too_new"
        case badLocation = "store_location"
        case failed
    }

    private let value: Code
    /// What went wrong, for operators (the `relais-hub` command prints it). Never contains a secret.
    public let message: String
    /// Context for logs (paths, SQLSTATE, SQLite codes): shown only in ``debugDescription``.
    public let context: [String: String]

    private init(_ value: Code, _ message: String, context: [String: String] = [:]) {
        self.value = value
        self.message = message
        self.context = context
    }

    /// The stable snake_case code, for logs; the wire carries the answer's code (``HubError/code``).
    public var code: String { value.rawValue }

    public static func == (lhs: HubStoreError, rhs: HubStoreError) -> Bool { lhs.value == rhs.value }
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }

    public var description: String { "\(code): \(message)" }

    public var debugDescription: String {
        guard !context.isEmpty else { return "HubStoreError(\(description))" }
        let pairs = context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "HubStoreError(\(description) [\(pairs)])"
    }

    /// The same error with another message and more context.
    public func with(_ message: String, _ context: [String: String] = [:]) -> HubStoreError {
        HubStoreError(value, message, context: self.context.merging(context) { _, new in new })
    }

    /// The store is busy (locked, serialization failures past the retries), closed, or its server is
    /// unreachable; retry with back-off. Answered 503 `unavailable`.
    public static var unavailable: HubStoreError {
        .init(.unavailable, "The hub's store is busy or closed; retry later.")
    }
    /// The store reached its size ceiling (`--max-store-mb`) or the disk is full: nothing of the
    /// transaction was written; reads keep working. Answered 507 `storage_full`.
    public static var storageFull: HubStoreError {
        .init(.storageFull, "The hub's storage is full; nothing was saved. Retry once an administrator frees space.")
    }
    /// `init` found a store already there.
    public static var exists: HubStoreError { .init(.exists, "The data folder already holds a hub store.") }
    /// No store there, or one without its meta row (run `relais-hub init` first).
    public static var missing: HubStoreError {
        .init(.missing, "The data folder holds no hub store; run `relais-hub init` first.")
    }
    /// The store was written by a newer version of the hub.
    public static var tooNew: HubStoreError {
        .init(.tooNew, "The store was written by a newer relais-hub; upgrade it.")
    }
    /// A store location that cannot name a store (a malformed `--postgres` URL).
    public static var badLocation: HubStoreError { .init(.badLocation, "The store location is malformed.") }
    /// The store failed otherwise (a damaged file, an unexpected database error, a misuse).
    public static var failed: HubStoreError { .init(.failed, "The hub's store failed.") }
}
