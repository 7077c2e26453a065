/// How a message is serialised in a body: the HTTP `Content-Type`.
///
/// - ``protobuf``: binary Protocol Buffers, `application/x-protobuf` (`application/protobuf` is
///   accepted too). The form clients use.
/// - ``json``: the proto3 canonical JSON mapping of the same messages, `application/json` (UTF-8).
///   For debugging and `curl`.
public enum WireFormat: String, Hashable, Sendable, CaseIterable {
    case protobuf
    case json

    /// The `Content-Type` to send.
    public var contentType: String {
        switch self {
        case .protobuf: "application/x-protobuf"
        case .json: "application/json"
        }
    }

    /// Parses a `Content-Type` header. Case is ignored; a `charset` parameter must be `utf-8`.
    ///
    /// - Throws: ``ProtocolError/unsupportedMediaType`` for a missing or other media type.
    public init(contentType header: String?) throws(ProtocolError) {
        let parts = (header ?? "").split(separator: ";", omittingEmptySubsequences: false)
        let mediaType = ContentEncoding.trim(String(parts.first ?? "")).lowercased()
        let format: WireFormat
        switch mediaType {
        case "application/x-protobuf", "application/protobuf": format = .protobuf
        case "application/json": format = .json
        default:
            throw ProtocolError.unsupportedMediaType.with(
                mediaType.isEmpty
                    ? "The request has no Content-Type; send application/x-protobuf or application/json."
                    : "Content-Type '\(ContentEncoding.excerpt(mediaType))' is not supported; "
                        + "send application/x-protobuf or application/json.",
                ["supported": "application/x-protobuf, application/json"]
            )
        }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, ContentEncoding.trim(String(pair[0])).lowercased() == "charset" else { continue }
            var charset = ContentEncoding.trim(String(pair[1])).lowercased()
            if charset.hasPrefix("\""), charset.hasSuffix("\""), charset.count >= 2 {
                charset = String(charset.dropFirst().dropLast())
            }
            guard charset == "utf-8" || charset == "utf8" else {
                throw ProtocolError.unsupportedMediaType.with(
                    "Only the UTF-8 charset is supported.",
                    ["supported": "utf-8"]
                )
            }
        }
        self = format
    }
}
