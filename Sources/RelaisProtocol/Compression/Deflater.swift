import CRelaisZlib

/// Compresses a body chunk by chunk: zlib format for ``ContentEncoding/deflate``, gzip for
/// ``ContentEncoding/gzip``, pass-through for ``ContentEncoding/identity``.
///
/// ```swift
/// let deflater = try Deflater(encoding: .deflate)
/// for page in pages { try send(deflater.update(page)) }
/// try send(deflater.finish())
/// ```
///
/// A deflater is a reference to zlib state: use it from one task at a time. It is not `Sendable`.
public final class Deflater {
    /// The encoding produced.
    public let encoding: ContentEncoding
    /// The zlib level, 0 to 9.
    public let level: Int

    private var stream: UnsafeMutablePointer<z_stream>?
    private var buffer: UnsafeMutableBufferPointer<UInt8>?
    private var finished = false

    /// Prepares a compressor.
    ///
    /// - Parameter level: 0 (store) to 9 (smallest); default 6. Level 1 is about 2.3× faster and
    ///   compresses somewhat less.
    /// - Precondition: `level` is in `0...9`.
    public init(encoding: ContentEncoding, level: Int = ContentEncoding.defaultLevel) throws(ProtocolError) {
        precondition((0...9).contains(level), "compression level must be 0...9")
        self.encoding = encoding
        self.level = level
        guard encoding != .identity else { return }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard crelais_deflate_init2(stream, Int32(level), encoding.windowBits) == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw ProtocolError.encodingFailed.with("zlib could not start compressing (out of memory).")
        }
        self.stream = stream
        buffer = .allocate(capacity: 64 << 10)
    }

    deinit { release() }

    /// Compresses the next chunk; returns the compressed bytes ready so far (possibly none).
    public func update(_ chunk: some Collection<UInt8>) throws(ProtocolError) -> [UInt8] {
        precondition(!finished, "Deflater.update called after finish()")
        guard stream != nil else { return Array(chunk) }
        let result: Result<[UInt8], ProtocolError>
        if let r = chunk.withContiguousStorageIfAvailable({ run($0, flush: Z_NO_FLUSH) }) {
            result = r
        } else {
            result = Array(chunk).withUnsafeBufferPointer { run($0, flush: Z_NO_FLUSH) }
        }
        return try result.get()
    }

    /// Ends the stream; returns the last compressed bytes (the end of the stream and its checksum).
    public func finish() throws(ProtocolError) -> [UInt8] {
        precondition(!finished, "Deflater.finish called twice")
        finished = true
        defer { release() }
        guard stream != nil else { return [] }
        return try run(UnsafeBufferPointer(start: nil, count: 0), flush: Z_FINISH).get()
    }

    private func run(_ input: UnsafeBufferPointer<UInt8>, flush: Int32) -> Result<[UInt8], ProtocolError> {
        guard let stream, let buffer else { return .success([]) }
        var output: [UInt8] = []
        let error = ZlibPump.run(
            stream, input: input, buffer: buffer, call: { deflate($0, flush) },
            sink: { produced in
                output.append(contentsOf: produced)
                return nil
            },
            decide: { status in
                switch status {
                case Z_STREAM_END:
                    return .done
                case Z_OK, Z_BUF_ERROR:
                    // A full output buffer means more output may be pending: go round again.
                    if stream.pointee.avail_out > 0 {
                        // Without flushing, deflate consumed all the input.
                        if flush == Z_NO_FLUSH { return .done }
                        // Finishing with room to spare and no progress: zlib is stuck.
                        if status == Z_BUF_ERROR {
                            return .failed(
                                ProtocolError.encodingFailed.with("zlib made no progress finishing a stream."))
                        }
                    }
                    return .again
                default:
                    return .failed(
                        ProtocolError.encodingFailed.with("zlib failed while compressing (status \(status))."))
                }
            })
        if let error { return .failure(error) }
        return .success(output)
    }

    private func release() {
        if let stream {
            deflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
            self.stream = nil
        }
        if let buffer {
            buffer.deallocate()
            self.buffer = nil
        }
    }
}

@available(*, unavailable)
extension Deflater: Sendable {}
