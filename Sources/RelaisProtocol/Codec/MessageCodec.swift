public import SwiftProtobuf

/// Turns wire messages into bodies and bodies into checked wire messages.
///
/// Decoding a body runs, in order, and stops at the first problem with a ``ProtocolError``:
/// 1. the `Content-Type` and `Content-Encoding` headers are parsed (415 if unknown);
/// 2. the body is inflated within ``ProtocolLimits`` (see ``Inflater``);
/// 3. a JSON body is checked by ``StrictJSONScanner`` (no duplicate keys, bounded depth);
/// 4. the message is parsed; fields it does not know are ignored, in both formats;
/// 5. a message that conforms to ``ProtocolValidatable`` is checked against the limits and the
///    structural rules of the protocol (writes per batch, field sizes, value kinds, dots...).
///
/// ```swift
/// let codec = MessageCodec()
/// let push = try codec.decode(Relais_V1_PushRequest.self, from: body,
///                             contentType: "application/x-protobuf", contentEncoding: "deflate")
/// let answer = try codec.encode(response, format: .protobuf, encoding: .deflate)
/// ```
///
/// Schema rules (does the field exist, does the value fit its type, may this user write it) are not
/// the codec's: the core checks them per write.
public struct MessageCodec: Sendable {
    /// The limits enforced when decoding.
    public var limits: ProtocolLimits
    /// The zlib level used when encoding with deflate or gzip, 0 to 9. Default 6.
    public var compressionLevel: Int

    /// A codec enforcing `limits`, compressing at `compressionLevel` (0 to 9).
    public init(limits: ProtocolLimits = .default, compressionLevel: Int = ContentEncoding.defaultLevel) {
        self.limits = limits
        self.compressionLevel = compressionLevel
    }

    // MARK: - Encoding

    /// Serialises `message` in `format` and compresses it with `encoding`.
    ///
    /// Binary output is deterministic (map entries sorted); JSON output is proto3 canonical JSON:
    /// lowerCamelCase keys, 64-bit integers as strings, default values omitted, map keys sorted.
    ///
    /// - Throws: ``ProtocolError/encodingFailed`` (a bug, not bad input).
    public func encode<M: Message>(
        _ message: M,
        format: WireFormat = .protobuf,
        encoding: ContentEncoding = .identity
    ) throws(ProtocolError) -> [UInt8] {
        let bytes = try serialize(message, format: format)
        return try encoding.compress(bytes, level: compressionLevel)
    }

    /// Serialises `message` in `format`, uncompressed.
    public func serialize<M: Message>(_ message: M, format: WireFormat) throws(ProtocolError) -> [UInt8] {
        do {
            switch format {
            case .protobuf:
                var options = BinaryEncodingOptions()
                options.useDeterministicOrdering = true
                return try message.serializedBytes(options: options)
            case .json:
                var options = JSONEncodingOptions()
                options.useDeterministicOrdering = true
                return try message.jsonUTF8Bytes(options: options)
            }
        } catch {
            throw ProtocolError.encodingFailed.with(
                "\(M.protoMessageName) could not be encoded as \(format.rawValue).",
                ["message": M.protoMessageName]
            )
        }
    }

    /// The body of an error answer: the canonical JSON of a `relais.v1.Error`. Send it with
    /// `Content-Type: application/json` and ``ProtocolError/httpStatus``.
    public func errorBody(_ error: ProtocolError) -> [UInt8] {
        errorBody(Relais_V1_Error(error))
    }

    /// The body of an error answer for any `relais.v1.Error` (hub-level codes included).
    public func errorBody(_ error: Relais_V1_Error) -> [UInt8] {
        (try? serialize(error, format: .json)) ?? Array(#"{"code":"internal"}"#.utf8)
    }

    // MARK: - Decoding

    /// Decodes a whole body, given its `Content-Type` and `Content-Encoding` headers.
    ///
    /// - Throws: a ``ProtocolError``, and nothing else.
    public func decode<M: Message>(
        _ type: M.Type,
        from body: some Collection<UInt8>,
        contentType: String?,
        contentEncoding: String?
    ) throws(ProtocolError) -> M {
        let format = try WireFormat(contentType: contentType)
        let encoding = try ContentEncoding(header: contentEncoding)
        return try decode(type, from: body, format: format, encoding: encoding)
    }

    /// Decodes a whole body in a known format and encoding.
    public func decode<M: Message>(
        _ type: M.Type,
        from body: some Collection<UInt8>,
        format: WireFormat,
        encoding: ContentEncoding
    ) throws(ProtocolError) -> M {
        if body.count > limits.maxBodyBytes {
            throw ProtocolError.bodyTooLarge(limit: limits.maxBodyBytes)
        }
        let bytes = try encoding.decompress(body, limits: limits)
        return try decode(type, decompressed: bytes, format: format)
    }

    /// Decodes a body already inflated (by an ``Inflater`` fed as the body streamed in).
    public func decode<M: Message>(
        _ type: M.Type,
        decompressed bytes: [UInt8],
        format: WireFormat
    ) throws(ProtocolError) -> M {
        if bytes.count > limits.maxDecompressedBytes {
            throw ProtocolError.decompressedTooLarge.with(
                "The body is larger than \(limits.maxDecompressedBytes) bytes.",
                ["limit": String(limits.maxDecompressedBytes)]
            )
        }
        let message: M
        switch format {
        case .protobuf:
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = limits.maxNestingDepth
            options.discardUnknownFields = true
            do {
                message = try M(serializedBytes: bytes, options: options)
            } catch {
                throw ProtocolError.malformedBody.with(
                    "The body is not a valid binary \(M.protoMessageName) (\(Self.reason(error))).",
                    ["message": M.protoMessageName, "reason": Self.reason(error)]
                )
            }
        case .json:
            try StrictJSONScanner.validate(bytes, maxDepth: limits.maxNestingDepth)
            var options = JSONDecodingOptions()
            options.messageDepthLimit = limits.maxNestingDepth
            options.ignoreUnknownFields = true
            do {
                message = try M(jsonUTF8Bytes: bytes, options: options)
            } catch {
                throw ProtocolError.malformedBody.with(
                    "The body is not a valid JSON \(M.protoMessageName) (\(Self.reason(error))).",
                    ["message": M.protoMessageName, "reason": Self.reason(error)]
                )
            }
        }
        if let validatable = message as? any ProtocolValidatable {
            try validatable.validate(limits: limits)
        }
        return message
    }

    /// The name of a SwiftProtobuf error case (`truncated`, `malformedNumber`...): never a value.
    private static func reason(_ error: any Error) -> String {
        let text = String(describing: error)
        let name = text.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return name.isEmpty ? "invalid" : String(name.prefix(60))
    }
}
