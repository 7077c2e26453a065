import CRelaisZlib

/// The loop that drives zlib over one input, shared by ``Deflater`` and ``Inflater``.
///
/// zlib writes into a fixed output buffer; after each call the bytes it produced go to a sink and
/// the caller decides, from zlib's status and the stream's state, whether to go round again.
enum ZlibPump {
    /// What to do after one call to zlib.
    enum Step {
        /// Call zlib again with an empty output buffer.
        case again
        /// The input is dealt with.
        case done
        /// Stop with this error.
        case failed(ProtocolError)
    }

    /// Runs `call` (`deflate` or `inflate`) over `input` until `decide` says otherwise. zlib's
    /// input pointers are cleared on return, whatever happens.
    ///
    /// - Parameters:
    ///   - sink: receives the bytes each call produced (possibly none); an error stops the loop.
    ///   - decide: reads zlib's status (and, through `stream`, what is left) after each call.
    /// - Returns: the error that stopped the loop, or `nil`.
    static func run(
        _ stream: UnsafeMutablePointer<z_stream>,
        input: UnsafeBufferPointer<UInt8>,
        buffer: UnsafeMutableBufferPointer<UInt8>,
        call: (UnsafeMutablePointer<z_stream>) -> Int32,
        sink: (UnsafeBufferPointer<UInt8>) -> ProtocolError?,
        decide: (Int32) -> Step
    ) -> ProtocolError? {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.pointee.avail_in = uInt(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        while true {
            stream.pointee.next_out = buffer.baseAddress
            stream.pointee.avail_out = uInt(buffer.count)
            let status = call(stream)
            let produced = buffer.count - Int(stream.pointee.avail_out)
            if let error = sink(UnsafeBufferPointer(rebasing: buffer[..<produced])) { return error }
            switch decide(status) {
            case .again: continue
            case .done: return nil
            case .failed(let error): return error
            }
        }
    }
}
