import CRelaisZlib

/// Decompresses a body as it arrives, chunk by chunk, within hard limits.
///
/// The hub feeds each chunk of a request body as it streams in; the inflater counts the bytes
/// received, inflates into a fixed-size buffer and stops at the first chunk that crosses a limit.
/// It never allocates the whole output in advance and never trusts `Content-Length`.
///
/// ```swift
/// let inflater = try Inflater(encoding: ContentEncoding(header: contentEncoding), limits: limits)
/// for try await chunk in request.body {
///     try inflater.feed(chunk.readableBytesView)
/// }
/// let body = try inflater.finish()
/// ```
///
/// Refused, with a ``ProtocolError``:
/// - more than ``ProtocolLimits/maxBodyBytes`` received (`body_too_large`);
/// - more than ``ProtocolLimits/maxDecompressedBytes`` out (`decompressed_too_large`);
/// - past ``ProtocolLimits/expansionRatioFloorBytes`` out, more than
///   ``ProtocolLimits/maxExpansionRatio`` bytes out per compressed byte consumed
///   (`expansion_ratio_exceeded`);
/// - invalid compressed data, or a raw deflate stream where zlib is expected (`corrupt_stream`);
/// - bytes after the end of the compressed stream (`trailing_data`);
/// - a body that ends before its compressed stream does (`truncated_stream`, from ``finish()``).
///
/// After an error the inflater is spent: every later call throws the same error. With
/// ``ContentEncoding/identity`` it passes bytes through, with the same size limits.
///
/// An inflater is a reference to zlib state: use it from one task at a time. It is not `Sendable`.
public final class Inflater {
    /// The encoding being decoded.
    public let encoding: ContentEncoding
    /// The limits enforced.
    public let limits: ProtocolLimits
    /// Bytes received so far through ``feed(_:)``.
    public private(set) var compressedBytesReceived = 0
    /// The most bytes this inflater held at once: its output storage's capacity plus its chunk
    /// buffer. Never more than ``ProtocolLimits/maxDecompressedBytes`` plus
    /// ``ProtocolLimits/inflateChunkBytes``: the output grows geometrically but never past the limit.
    /// (While one growth step copies, the previous, smaller storage lives until the copy is done.)
    public private(set) var highWaterMark = 0
    /// Whether the end of the compressed stream was seen (always false for ``ContentEncoding/identity``).
    public private(set) var isStreamEnded = false

    /// The decompressed bytes so far: `count` initialised bytes at the start of `storage`.
    private var storage = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
    private var count = 0
    /// Decompressed bytes already handed out by ``drain()``.
    private var drained = 0
    private var stream: UnsafeMutablePointer<z_stream>?
    private var buffer: UnsafeMutableBufferPointer<UInt8>?
    private var failure: ProtocolError?
    private var finished = false

    /// Decompressed bytes produced so far.
    public var decompressedBytes: Int { drained + count }

    /// Hands out the decompressed bytes produced so far and forgets them, so that a large stream can
    /// be written out as it inflates; the limits still count every byte produced.
    public func drain() -> [UInt8] {
        let result = Array(UnsafeBufferPointer(rebasing: storage[..<count]))
        drained += count
        count = 0
        return result
    }

    /// Prepares to inflate a body in `encoding`.
    ///
    /// - Throws: ``ProtocolError/encodingFailed`` if zlib cannot allocate its state.
    public init(encoding: ContentEncoding, limits: ProtocolLimits = .default) throws(ProtocolError) {
        self.encoding = encoding
        self.limits = limits
        guard encoding != .identity else { return }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard crelais_inflate_init2(stream, encoding.windowBits) == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw ProtocolError.encodingFailed.with("zlib could not start inflating (out of memory).")
        }
        self.stream = stream
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, limits.inflateChunkBytes))
        self.buffer = buffer
        highWaterMark = buffer.count
    }

    deinit {
        release()
        releaseOutput()
    }

    /// Feeds the next chunk of the body.
    ///
    /// - Throws: a ``ProtocolError`` as soon as a limit is crossed or the data is invalid.
    public func feed(_ chunk: some Collection<UInt8>) throws(ProtocolError) {
        if let failure { throw failure }
        precondition(!finished, "Inflater.feed called after finish()")
        let error: ProtocolError?
        if let result = chunk.withContiguousStorageIfAvailable({ feedBuffer($0) }) {
            error = result
        } else {
            error = Array(chunk).withUnsafeBufferPointer { feedBuffer($0) }
        }
        if let error {
            fail(error)
            throw error
        }
    }

    /// Ends the body and returns the decompressed bytes (those not yet handed out by ``drain()``).
    ///
    /// - Throws: ``ProtocolError/truncatedStream`` if the compressed stream did not end, or the
    ///   error an earlier ``feed(_:)`` threw.
    public func finish() throws(ProtocolError) -> [UInt8] {
        if let failure { throw failure }
        precondition(!finished, "Inflater.finish called twice")
        if encoding != .identity, !isStreamEnded {
            let error = ProtocolError.truncatedStream.with(
                "The \(encoding.rawValue) body ended after \(compressedBytesReceived) bytes, before its stream did.",
                ["received_bytes": String(compressedBytesReceived)]
            )
            fail(error)
            throw error
        }
        finished = true
        release()
        let result = Array(UnsafeBufferPointer(rebasing: storage[..<count]))
        releaseOutput()
        return result
    }

    // MARK: - Internals

    private func fail(_ error: ProtocolError) {
        failure = error
        release()
        releaseOutput()
    }

    private func releaseOutput() {
        storage.deallocate()
        storage = UnsafeMutableBufferPointer(start: nil, count: 0)
        count = 0
    }

    private func release() {
        if let stream {
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
            self.stream = nil
        }
        if let buffer {
            buffer.deallocate()
            self.buffer = nil
        }
    }

    private func feedBuffer(_ input: UnsafeBufferPointer<UInt8>) -> ProtocolError? {
        guard !input.isEmpty else { return nil }
        compressedBytesReceived += input.count
        if compressedBytesReceived > limits.maxBodyBytes {
            return ProtocolError.bodyTooLarge(limit: limits.maxBodyBytes)
        }
        guard let stream, let buffer else {
            // identity
            return append(input)
        }
        if isStreamEnded { return trailing(input.count) }
        return ZlibPump.run(
            stream, input: input, buffer: buffer, call: { inflate($0, Z_NO_FLUSH) },
            sink: { produced in produced.isEmpty ? nil : append(produced) },
            decide: { status in
                switch status {
                case Z_OK:
                    if stream.pointee.avail_in == 0, stream.pointee.avail_out > 0 { return .done }
                    return .again
                case Z_STREAM_END:
                    isStreamEnded = true
                    let left = Int(stream.pointee.avail_in)
                    return left > 0 ? .failed(trailing(left)) : .done
                case Z_BUF_ERROR:
                    // No progress possible: all input consumed, the stream wants more.
                    if stream.pointee.avail_in == 0 { return .done }
                    return .failed(corrupt())
                case Z_MEM_ERROR:
                    return .failed(ProtocolError.encodingFailed.with("zlib ran out of memory while inflating."))
                default:
                    // Z_DATA_ERROR (bad header, bad block, bad checksum), Z_NEED_DICT, Z_STREAM_ERROR.
                    return .failed(corrupt())
                }
            })
    }

    private func append(_ bytes: UnsafeBufferPointer<UInt8>) -> ProtocolError? {
        let total = count + bytes.count
        let produced = drained + total
        if produced > limits.maxDecompressedBytes {
            return ProtocolError.decompressedTooLarge.with(
                "The body decompresses to more than \(limits.maxDecompressedBytes) bytes.",
                ["limit": String(limits.maxDecompressedBytes)]
            )
        }
        if encoding != .identity, produced > limits.expansionRatioFloorBytes, let stream {
            let consumed = Int(stream.pointee.total_in)
            let (allowed, overflow) = limits.maxExpansionRatio.multipliedReportingOverflow(by: consumed)
            if !overflow, produced > allowed {
                return ProtocolError.expansionRatioExceeded.with(
                    "The body expanded more than \(limits.maxExpansionRatio)× while inflating.",
                    ["limit": String(limits.maxExpansionRatio)]
                )
            }
        }
        if total > storage.count {
            // Grow geometrically, but never past the limit: the capacity stays within it.
            let capacity = min(max(total, storage.count * 2, 4096), limits.maxDecompressedBytes)
            let grown = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: capacity)
            if let base = storage.baseAddress, let target = grown.baseAddress {
                target.update(from: base, count: count)
            }
            storage.deallocate()
            storage = grown
            highWaterMark = max(highWaterMark, storage.count + (buffer?.count ?? 0))
        }
        if let source = bytes.baseAddress, let target = storage.baseAddress {
            (target + count).update(from: source, count: bytes.count)
        }
        count = total
        return nil
    }

    private func trailing(_ count: Int) -> ProtocolError {
        ProtocolError.trailingData.with(
            "\(count) byte(s) follow the end of the \(encoding.rawValue) stream.",
            ["trailing_bytes": String(count)]
        )
    }

    private func corrupt() -> ProtocolError {
        var reason = "invalid data"
        if let stream, let message = stream.pointee.msg { reason = String(cString: message) }
        let hint = encoding == .deflate ? " (Content-Encoding: deflate means the zlib format, RFC 1950)" : ""
        return ProtocolError.corruptStream.with(
            "The body is not a valid \(encoding.rawValue) stream: \(reason)\(hint).",
            ["zlib": reason]
        )
    }
}

@available(*, unavailable)
extension Inflater: Sendable {}
