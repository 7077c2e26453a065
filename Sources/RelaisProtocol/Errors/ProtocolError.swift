/// A request or response body the codec refused, or a body it could not produce.
///
/// Each error has a stable snake_case ``code`` and the ``httpStatus`` a hub answers with, so the hub
/// maps codec errors to responses without knowing codec internals. Compare errors by code:
///
/// ```swift
/// do {
///     let push = try codec.decode(Relais_V1_PushRequest.self, from: body,
///                                 contentType: contentType, contentEncoding: contentEncoding)
/// } catch {
///     if error == .bodyTooLarge { ... }
///     respond(status: error.httpStatus, body: try codec.encodeError(error))
/// }
/// ```
///
/// ``message`` and ``details`` describe the problem in terms of the wire (sizes, limits, a path such
/// as `writes[3].fields[1]`); they never quote values or tokens, so they are safe to log and to send
/// back to the client.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private enum Code: String, Sendable, CaseIterable {
        // 413: too big
        case bodyTooLarge = "body_too_large"
        case decompressedTooLarge = "decompressed_too_large"
        case expansionRatioExceeded = "expansion_ratio_exceeded"
        case tooManyWrites = "too_many_writes"
        case tooManyRecords = "too_many_records"
        case fieldTooLarge = "field_too_large"
        // 400: not well formed
        case truncatedStream = "truncated_stream"
        case trailingData = "trailing_data"
        case corruptStream = "corrupt_stream"
        case malformedBody = "malformed_body"
        case duplicateJSONKey = "duplicate_json_key"
        case jsonTooDeep = "json_too_deep"
        case invalidValue = "invalid_value"
        case invalidMessage = "invalid_message"
        // 415: not understood
        case unsupportedMediaType = "unsupported_media_type"
        case unsupportedEncoding = "unsupported_encoding"
        // 500: our own failure
        case encodingFailed = "encoding_failed"
    }

    private let value: Code
    /// A one-sentence explanation for people. Never contains values or secrets.
    public let message: String
    /// Context as key/value pairs (`limit`, `path`, `key`...), sent in the error body's `details`.
    public let details: [String: String]

    private init(_ value: Code, _ message: String? = nil, details: [String: String] = [:]) {
        self.value = value
        self.message = message ?? Self.defaultMessage(value)
        self.details = details
    }

    /// The stable snake_case code sent in the error body, for example `body_too_large`.
    public var code: String { value.rawValue }

    /// The HTTP status a hub answers with: 400, 413, 415, or 500 for ``encodingFailed``.
    public var httpStatus: Int {
        switch value {
        case .bodyTooLarge, .decompressedTooLarge, .expansionRatioExceeded, .tooManyWrites, .tooManyRecords,
            .fieldTooLarge:
            413
        case .truncatedStream, .trailingData, .corruptStream, .malformedBody, .duplicateJSONKey, .jsonTooDeep,
            .invalidValue, .invalidMessage:
            400
        case .unsupportedMediaType, .unsupportedEncoding:
            415
        case .encodingFailed:
            500
        }
    }

    /// Errors compare by code only, so `error == .bodyTooLarge` holds whatever the message.
    public static func == (lhs: ProtocolError, rhs: ProtocolError) -> Bool { lhs.value == rhs.value }
    /// Hashes the code only, consistently with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }

    public var description: String { "\(code): \(message)" }

    public var debugDescription: String {
        guard !details.isEmpty else { return "ProtocolError(\(description))" }
        let context = details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "ProtocolError(\(description) [\(context)])"
    }

    /// Every code the codec can produce, for documentation and tests.
    public static var allCodes: [String] { Code.allCases.map(\.rawValue) }

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
        case .encodingFailed: "The message could not be encoded."
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
        ProtocolError(value, message, details: self.details.merging(details) { _, new in new })
    }

    /// The same error with one more detail.
    func adding(_ key: String, _ detail: String) -> ProtocolError {
        ProtocolError(value, message, details: details.merging([key: detail]) { _, new in new })
    }
}
