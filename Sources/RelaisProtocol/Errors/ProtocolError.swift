/// A request or response body the codec refused, or a body it could not produce.
///
/// Each error has a stable snake_case ``code`` and the ``httpStatus`` a hub answers with, so the hub
/// maps codec errors to responses without knowing codec internals. Compare errors by code, as every
/// error of Relais (`==` on two errors compares their codes too):
///
/// ```swift
/// do {
///     let push = try codec.decode(Relais_V1_PushRequest.self, from: body,
///                                 contentType: contentType, contentEncoding: contentEncoding)
/// } catch {
///     if error.code == .bodyTooLarge { ... }
///     respond(status: error.httpStatus, body: try codec.encodeError(error))
/// }
/// ```
///
/// ``message`` and ``details`` describe the problem in terms of the wire (sizes, limits, a path such
/// as `writes[3].fields[1]`); they never quote values or tokens, so they are safe to log and to send
/// back to the client.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// A stable snake_case code; compare errors by it and switch over it (new codes may come, so a
    /// `switch` ends with `default`).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        // 413: too big
        public static let bodyTooLarge = Code(rawValue: "body_too_large")
        public static let decompressedTooLarge = Code(rawValue: "decompressed_too_large")
        public static let expansionRatioExceeded = Code(rawValue: "expansion_ratio_exceeded")
        public static let tooManyWrites = Code(rawValue: "too_many_writes")
        public static let tooManyRecords = Code(rawValue: "too_many_records")
        public static let fieldTooLarge = Code(rawValue: "field_too_large")
        // 400: not well formed
        public static let truncatedStream = Code(rawValue: "truncated_stream")
        public static let trailingData = Code(rawValue: "trailing_data")
        public static let corruptStream = Code(rawValue: "corrupt_stream")
        public static let malformedBody = Code(rawValue: "malformed_body")
        public static let duplicateJSONKey = Code(rawValue: "duplicate_json_key")
        public static let jsonTooDeep = Code(rawValue: "json_too_deep")
        public static let invalidValue = Code(rawValue: "invalid_value")
        public static let invalidMessage = Code(rawValue: "invalid_message")
        // 415: not understood
        public static let unsupportedMediaType = Code(rawValue: "unsupported_media_type")
        public static let unsupportedEncoding = Code(rawValue: "unsupported_encoding")
        // 500: our own failure
        public static let encodingFailed = Code(rawValue: "encoding_failed")

        /// Every code.
        public static let all: [Code] = [
            .bodyTooLarge, .decompressedTooLarge, .expansionRatioExceeded, .tooManyWrites, .tooManyRecords,
            .fieldTooLarge, .truncatedStream, .trailingData, .corruptStream, .malformedBody, .duplicateJSONKey,
            .jsonTooDeep, .invalidValue, .invalidMessage, .unsupportedMediaType, .unsupportedEncoding, .encodingFailed,
        ]
    }

    /// What the codec refused.
    public let code: Code
    /// A one-sentence explanation for people. Never contains values or secrets.
    public let message: String
    /// Context as key/value pairs (`limit`, `path`, `key`...), sent in the error body's `details`.
    public let details: [String: String]

    private init(_ value: Code, _ message: String? = nil, details: [String: String] = [:]) {
        self.code = value
        self.message = message ?? Self.defaultMessage(value)
        self.details = details
    }

    /// The stable snake_case code sent in the error body, for example `body_too_large`.
    /// The HTTP status a hub answers with: 400, 413, 415, or 500 for ``encodingFailed``.
    public var httpStatus: Int {
        switch code {
        case .bodyTooLarge, .decompressedTooLarge, .expansionRatioExceeded, .tooManyWrites, .tooManyRecords,
            .fieldTooLarge:
            413
        case .truncatedStream, .trailingData, .corruptStream, .malformedBody, .duplicateJSONKey, .jsonTooDeep,
            .invalidValue, .invalidMessage:
            400
        case .unsupportedMediaType, .unsupportedEncoding:
            415
        default:
            500
        }
    }

    /// Errors compare by code only, so `error == .bodyTooLarge` holds whatever the message (the hook
    /// `#expect(throws: ProtocolError.bodyTooLarge)` needs); elsewhere compare `error.code`.
    public static func == (lhs: ProtocolError, rhs: ProtocolError) -> Bool { lhs.code == rhs.code }
    /// Hashes the code only, consistently with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { "\(code): \(message)" }

    public var debugDescription: String {
        guard !details.isEmpty else { return "ProtocolError(\(description))" }
        let context = details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "ProtocolError(\(description) [\(context)])"
    }

    /// Every code the codec can produce, for documentation and tests.
    public static var allCodes: [String] { Code.all.map(\.rawValue) }

    private static func defaultMessage(_ code: Code) -> String {
        switch code {
        case .bodyTooLarge: "The request body is larger than the hub accepts."
        case .decompressedTooLarge: "The body decompresses to more than the hub accepts."
        case .expansionRatioExceeded: "The body expands far more than real data does when decompressed."
        case .tooManyWrites: "The batch holds more writes than the hub accepts in one push."
        case .tooManyRecords: "The page holds more records than the page size limit."
        case .fieldTooLarge: "A field value is larger than the hub accepts."
        case .truncatedStream: "The compressed body ends before its compressed stream does."
        case .trailingData: "The compressed body carries bytes after the end of its compressed stream."
        case .corruptStream: "The compressed body is not a valid stream of its declared encoding."
        case .malformedBody: "The body is not a well-formed message."
        case .duplicateJSONKey: "A JSON object names the same key twice."
        case .jsonTooDeep: "The JSON body nests deeper than the hub accepts."
        case .invalidValue: "A value has no kind, or a kind it cannot take."
        case .invalidMessage: "The message is well formed but breaks a rule of the protocol."
        case .unsupportedMediaType: "The Content-Type is not application/x-protobuf or application/json."
        case .unsupportedEncoding: "The Content-Encoding is not identity, deflate or gzip."
        default: "The message could not be encoded."
        }
    }
}

extension ProtocolError {
    /// The raw body is larger than ``ProtocolLimits/maxBodyBytes``. HTTP 413.
    public static var bodyTooLarge: Self { .init(.bodyTooLarge) }
    /// ``bodyTooLarge`` naming the limit, as a hub answers whether it counted the bytes or read a
    /// declared Content-Length.
    public static func bodyTooLarge(limit: Int) -> Self {
        bodyTooLarge.with("The body is larger than \(limit) bytes.", ["limit": String(limit)])
    }
    /// The body inflates past ``ProtocolLimits/maxDecompressedBytes``. HTTP 413.
    public static var decompressedTooLarge: Self { .init(.decompressedTooLarge) }
    /// The body inflates past ``ProtocolLimits/maxExpansionRatio`` times the compressed bytes read. HTTP 413.
    public static var expansionRatioExceeded: Self { .init(.expansionRatioExceeded) }
    /// A push batch holds more than ``ProtocolLimits/maxWritesPerBatch`` writes. HTTP 413.
    public static var tooManyWrites: Self { .init(.tooManyWrites) }
    /// A pull page holds more than ``ProtocolLimits/maxPageSize`` records or revocations. HTTP 413.
    public static var tooManyRecords: Self { .init(.tooManyRecords) }
    /// A value is larger than ``ProtocolLimits/maxFieldValueBytes``. HTTP 413.
    public static var fieldTooLarge: Self { .init(.fieldTooLarge) }
    /// The compressed stream ends early. HTTP 400.
    public static var truncatedStream: Self { .init(.truncatedStream) }
    /// Bytes follow the end of the compressed stream. HTTP 400.
    public static var trailingData: Self { .init(.trailingData) }
    /// The compressed stream is not valid zlib (RFC 1950) or gzip (RFC 1952) data. HTTP 400.
    public static var corruptStream: Self { .init(.corruptStream) }
    /// The (decompressed) body does not parse as the expected message. HTTP 400.
    public static var malformedBody: Self { .init(.malformedBody) }
    /// A JSON object repeats a key. HTTP 400.
    public static var duplicateJSONKey: Self { .init(.duplicateJSONKey) }
    /// JSON nesting exceeds ``ProtocolLimits/maxNestingDepth``. HTTP 400.
    public static var jsonTooDeep: Self { .init(.jsonTooDeep) }
    /// A value has no kind, a non-finite number, or `is_null: false`. HTTP 400.
    public static var invalidValue: Self { .init(.invalidValue) }
    /// A structural rule is broken (missing dot, a write both deleting and setting fields...). HTTP 400.
    public static var invalidMessage: Self { .init(.invalidMessage) }
    /// The Content-Type is missing or not one of the wire formats. HTTP 415.
    public static var unsupportedMediaType: Self { .init(.unsupportedMediaType) }
    /// The Content-Encoding is not one the codec reads. HTTP 415.
    public static var unsupportedEncoding: Self { .init(.unsupportedEncoding) }
    /// A message could not be serialised, or zlib failed (out of memory). HTTP 500; a bug, not bad input.
    public static var encodingFailed: Self { .init(.encodingFailed) }

    /// The same error with a specific message and context.
    func with(_ message: String, _ details: [String: String] = [:]) -> ProtocolError {
        ProtocolError(code, message, details: self.details.merging(details) { _, new in new })
    }

    /// The same error with one more detail.
    func adding(_ key: String, _ detail: String) -> ProtocolError {
        ProtocolError(code, message, details: details.merging([key: detail]) { _, new in new })
    }
}
