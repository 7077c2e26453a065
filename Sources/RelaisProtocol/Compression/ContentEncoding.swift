/// How a body is compressed on the wire: the HTTP `Content-Encoding`.
///
/// - ``identity``: not compressed.
/// - ``deflate``: the zlib format (RFC 1950: a two-byte header, a deflate stream, an Adler-32
///   checksum), which is what HTTP's `deflate` means (RFC 9110 §8.4.1.2). A raw deflate stream
///   without the zlib header is **refused** (`corrupt_stream`): the format is unambiguous and the
///   checksum catches corruption. Every common zlib binding produces the zlib format by default.
/// - ``gzip``: one gzip member (RFC 1952). Bytes after the first member are refused (`trailing_data`).
///
/// ```swift
/// let encoding = try ContentEncoding(header: request.headers["Content-Encoding"])
/// let body = try encoding.decompress(bytes, limits: .default)
/// ```
public enum ContentEncoding: String, Hashable, Sendable, CaseIterable {
    case identity
    case deflate
    case gzip

    /// The compression level used unless one is given: zlib's default, 6.
    public static let defaultLevel = 6

    /// Parses a `Content-Encoding` header: absent, empty or `identity` is ``identity``; `deflate`;
    /// `gzip` or `x-gzip`. Case and surrounding spaces are ignored.
    ///
    /// - Throws: ``ProtocolError/unsupportedEncoding`` for anything else, including a list of
    ///   several encodings (`gzip, deflate`).
    public init(header: String?) throws(ProtocolError) {
        let token = Self.trim(header ?? "").lowercased()
        switch token {
        case "", "identity": self = .identity
        case "deflate": self = .deflate
        case "gzip", "x-gzip": self = .gzip
        default:
            throw ProtocolError.unsupportedEncoding.with(
                "Content-Encoding '\(Self.excerpt(token))' is not supported; use deflate, gzip or identity.",
                ["supported": "identity, deflate, gzip"]
            )
        }
    }

    /// The `Content-Encoding` header to send, or `nil` for ``identity`` (send no header).
    public var headerValue: String? { self == .identity ? nil : rawValue }

    /// The encoding to answer with, given a request's `Accept-Encoding` header: ``deflate`` when the
    /// client accepts it, else ``gzip`` when it accepts that, else ``identity``.
    ///
    /// Quality values are honoured as far as `q=0` meaning "not acceptable"; `*` accepts both.
    public static func negotiate(acceptEncoding header: String?) -> ContentEncoding {
        guard let header else { return .identity }
        var accepted: [String: Bool] = [:]
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let first = parts.first else { continue }
            let name = trim(String(first)).lowercased()
            var acceptable = true
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                if pair.count == 2, trim(String(pair[0])).lowercased() == "q",
                    let q = Double(trim(String(pair[1])))
                {
                    acceptable = q > 0
                }
            }
            accepted[name] = acceptable
        }
        func accepts(_ name: String) -> Bool { accepted[name] ?? accepted["*"] ?? false }
        if accepts("deflate") { return .deflate }
        if accepts("gzip") || accepted["x-gzip"] == true { return .gzip }
        return .identity
    }

    /// Compresses `bytes` in this encoding (``identity`` returns them unchanged).
    ///
    /// - Parameter level: the zlib level, 0 (store) to 9 (smallest); default 6.
    public func compress(
        _ bytes: some Collection<UInt8>,
        level: Int = ContentEncoding.defaultLevel
    )
        throws(ProtocolError) -> [UInt8]
    {
        guard self != .identity else { return Array(bytes) }
        let deflater = try Deflater(encoding: self, level: level)
        var output = try deflater.update(bytes)
        output += try deflater.finish()
        return output
    }

    /// Decompresses a whole body, enforcing `limits` while it inflates (see ``Inflater``).
    public func decompress(
        _ bytes: some Collection<UInt8>,
        limits: ProtocolLimits = .default
    )
        throws(ProtocolError) -> [UInt8]
    {
        let inflater = try Inflater(encoding: self, limits: limits)
        try inflater.feed(bytes)
        return try inflater.finish()
    }

    /// zlib's `windowBits` for this encoding: 15 for the zlib format, 15 + 16 for gzip.
    var windowBits: Int32 { self == .gzip ? 31 : 15 }

    static func trim(_ text: String) -> String {
        var scalars = Substring(text)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }

    /// At most 40 characters of untrusted header text, for messages.
    static func excerpt(_ text: String) -> String {
        let printable = text.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }
        let cut = String(String.UnicodeScalarView(printable.prefix(40)))
        return printable.count > 40 ? cut + "…" : cut
    }
}
