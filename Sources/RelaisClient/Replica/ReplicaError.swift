public import RelaisCore

/// An error of the local replica: a missing record, a value that does not fit the schema, a file
/// that cannot be used, a bad import.
///
/// Compare by ``code``, as every error of Relais (`error.code == .notFound`, or `switch error.code`), and
/// read ``message``. The
/// description never includes the device token.
public struct ReplicaError: Error, Sendable, CustomStringConvertible {
    /// The kinds of replica errors, by a stable snake_case name.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The kind's snake_case name.
        public var description: String { name }

        /// No such record (or not visible to this replica).
        public static let notFound = Code("not_found")
        /// A value, field or collection that does not fit the schema.
        public static let invalid = Code("invalid")
        /// The file was written by a newer program (a newer schema): this program must be upgraded.
        public static let schemaTooNew = Code("schema_too_new")
        /// The file is not a replica, or is damaged.
        public static let badFile = Code("bad_file")
        /// The replica is not enrolled with a hub yet.
        public static let notEnrolled = Code("not_enrolled")
        /// An import was refused: nothing was imported.
        public static let importFailed = Code("import_failed")
        /// The record already exists.
        public static let alreadyExists = Code("already_exists")
        /// SQLite failed.
        public static let storage = Code("storage")
        /// The disk is full, or the file reached ``Replica/Configuration/maxFileBytes``: the edit was
        /// not saved (nothing of it was written).
        public static let storageFull = Code("storage_full")
    }

    /// One bad row of an import: its 1-based line number and what is wrong.
    public struct ImportProblem: Sendable, Hashable, CustomStringConvertible {
        /// The line of the file (1-based; a CSV header is line 1).
        public var line: Int
        /// What is wrong with it.
        public var message: String
        /// `line N: message`.
        public var description: String { "line \(line): \(message)" }
    }

    /// What kind of error.
    public let code: Code
    /// What happened, for a person.
    public let message: String
    /// The schema violation behind an ``Code/invalid`` error.
    public let validation: ValidationError?
    /// Every bad row of a refused import.
    public let problems: [ImportProblem]

    init(_ code: Code, _ message: String, validation: ValidationError? = nil, problems: [ImportProblem] = []) {
        self.code = code
        self.message = message
        self.validation = validation
        self.problems = problems
    }

    /// The error an edit gets when SQLite reports `SQLITE_FULL`.
    static var storageFull: ReplicaError {
        ReplicaError(
            .storageFull, "storage full: your edit was not saved (free disk space, or raise the replica's size limit)")
    }

    static func invalid(_ error: ValidationError) -> ReplicaError {
        ReplicaError(.invalid, error.description, validation: error)
    }

    /// The message (never the device token).
    public var description: String { message }
}
