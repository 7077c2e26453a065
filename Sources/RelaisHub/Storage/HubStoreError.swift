/// A failure of the hub's store (SQLite or PostgreSQL): busy, full, missing, too new, or broken.
///
/// Store failures are kept apart from the requests the hub refuses (``HubError``): a store throws only
/// these (and the ``HubError`` a transaction's body throws, which it passes on untouched). At the HTTP
/// edge each becomes the answer ``HubError/init(answering:)`` names: ``unavailable`` a 503
/// `unavailable`, ``storageFull`` a 507 `storage_full`, every other one a 500 `internal` whose detail
/// stays in the hub's log. The ``code`` is for logs (the wire carries the answer's); compare errors by
/// it, as every error of Relais (`==` on two errors compares their codes too):
///
/// ```swift
/// catch let error as HubStoreError where error.code == .unavailable { ... }
/// ```
public struct HubStoreError: Error, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// A stable snake_case code; compare errors by it and switch over it (new codes may come, so a
    /// `switch` ends with `default`).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The store cannot serve now (busy past its timeout, PostgreSQL gone): try again (503).
        public static let unavailable = Code(rawValue: "unavailable")
        /// The disk, or the store's configured ceiling, is full: nothing was written (507).
        public static let storageFull = Code(rawValue: "storage_full")
        /// `init` found a store already there.
        public static let exists = Code(rawValue: "store_exists")
        /// No store where one was expected (run `relais-hub init`), or a row it must hold is gone.
        public static let missing = Code(rawValue: "store_missing")
        /// The store was made by a newer `relais-hub`.
        public static let tooNew = Code(rawValue: "store_too_new")
        /// The data folder or PostgreSQL URL is malformed or unreachable.
        public static let badLocation = Code(rawValue: "store_location")
        /// Anything else (a corrupt file, an unexpected SQL error): answered as a bare 500.
        public static let failed = Code(rawValue: "failed")
    }

    /// What failed.
    public let code: Code
    /// What went wrong, for operators (the `relais-hub` command prints it). Never contains a secret.
    public let message: String
    /// Context for logs (paths, SQLSTATE, SQLite codes): shown only in ``debugDescription``.
    public let context: [String: String]

    private init(_ value: Code, _ message: String, context: [String: String] = [:]) {
        self.code = value
        self.message = message
        self.context = context
    }

    public static func == (lhs: HubStoreError, rhs: HubStoreError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { "\(code): \(message)" }

    public var debugDescription: String {
        guard !context.isEmpty else { return "HubStoreError(\(description))" }
        let pairs = context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "HubStoreError(\(description) [\(pairs)])"
    }

    /// The same error with another message and more context.
    public func with(_ message: String, _ context: [String: String] = [:]) -> HubStoreError {
        HubStoreError(code, message, context: self.context.merging(context) { _, new in new })
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
