import RelaisCore
import RelaisProtocol
import RelaisTesting
import Testing

/// Content-Encoding parsing, compression round trips, and inflation within hard limits.
struct CompressionTests {
    static let sample = Array(String(repeating: "customers status at_risk phone +33 4 78 00 12 34; ", count: 200).utf8)

    // MARK: Headers

    @Test func parsesContentEncodingHeaders() throws {
        #expect(try ContentEncoding(header: nil) == .identity)
        #expect(try ContentEncoding(header: "") == .identity)
        #expect(try ContentEncoding(header: " Identity ") == .identity)
        #expect(try ContentEncoding(header: "deflate") == .deflate)
        #expect(try ContentEncoding(header: "DEFLATE") == .deflate)
        #expect(try ContentEncoding(header: "gzip") == .gzip)
        #expect(try ContentEncoding(header: "x-gzip") == .gzip)
        for bad in ["br", "zstd", "compress", "gzip, deflate", "deflate;q=1"] {
            #expect(throws: ProtocolError.unsupportedEncoding) { try ContentEncoding(header: bad) }
        }
        #expect(ProtocolError.unsupportedEncoding.httpStatus == 415)
        #expect(ContentEncoding.identity.headerValue == nil)
        #expect(ContentEncoding.deflate.headerValue == "deflate")
    }

    @Test func negotiatesTheAnswerEncoding() {
        #expect(ContentEncoding.negotiate(acceptEncoding: nil) == .identity)
        #expect(ContentEncoding.negotiate(acceptEncoding: "deflate") == .deflate)
        #expect(ContentEncoding.negotiate(acceptEncoding: "gzip, deflate, br") == .deflate)
        #expect(ContentEncoding.negotiate(acceptEncoding: "gzip") == .gzip)
        #expect(ContentEncoding.negotiate(acceptEncoding: "deflate;q=0, gzip;q=0.5") == .gzip)
        #expect(ContentEncoding.negotiate(acceptEncoding: "*") == .deflate)
        #expect(ContentEncoding.negotiate(acceptEncoding: "*;q=0") == .identity)
        #expect(ContentEncoding.negotiate(acceptEncoding: "br") == .identity)
    }

    // MARK: Round trips

    @Test(arguments: ContentEncoding.allCases)
    func roundTripsAtEveryLevel(_ encoding: ContentEncoding) throws {
        for level in 0...9 {
            let compressed = try encoding.compress(Self.sample, level: level)
            #expect(try encoding.decompress(compressed) == Self.sample)
        }
        #expect(try encoding.decompress(try encoding.compress([])) == [])
    }

    @Test func deflateIsTheZlibFormatAndGzipIsGzip() throws {
        let deflated = try ContentEncoding.deflate.compress(Self.sample)
        #expect(deflated[0] == 0x78)
        #expect((UInt16(deflated[0]) << 8 | UInt16(deflated[1])) % 31 == 0)
        let gzipped = try ContentEncoding.gzip.compress(Self.sample)
        #expect(gzipped[0] == 0x1F && gzipped[1] == 0x8B)
        #expect(deflated.count < Self.sample.count / 10)
        // The two are not interchangeable.
        #expect(throws: ProtocolError.corruptStream) { try ContentEncoding.deflate.decompress(gzipped) }
        #expect(throws: ProtocolError.corruptStream) { try ContentEncoding.gzip.decompress(deflated) }
    }

    /// Draining hands out the bytes inflated so far (a snapshot written to a file as it inflates);
    /// the limits still count every byte produced.
    @Test func drainingHandsOutTheBytesAndTheLimitsStillCountThem() throws {
        let compressed = try ContentEncoding.deflate.compress(Self.sample)
        let inflater = try Inflater(encoding: .deflate)
        var out: [UInt8] = []
        for chunk in stride(from: 0, to: compressed.count, by: 7).map({ compressed[$0..<min($0 + 7, compressed.count)] }
        ) {
            try inflater.feed(chunk)
            out += inflater.drain()
        }
        out += try inflater.finish()
        #expect(out == Self.sample)

        var limits = ProtocolLimits.default
        limits.maxDecompressedBytes = Self.sample.count - 1
        let limited = try Inflater(encoding: .deflate, limits: limits)
        #expect(throws: ProtocolError.decompressedTooLarge) {
            for byte in compressed {
                try limited.feed([byte])
                _ = limited.drain()
            }
        }
    }

    @Test func rawDeflateWithoutTheZlibHeaderIsRefused() throws {
        // Strip the zlib wrapper (2-byte header, 4-byte Adler-32 trailer): a raw RFC 1951 stream.
        let zlib = try ContentEncoding.deflate.compress(Self.sample)
        let raw = Array(zlib[2..<(zlib.count - 4)])
        #expect(throws: ProtocolError.corruptStream) { try ContentEncoding.deflate.decompress(raw) }
    }

    @Test func aCorruptedChecksumIsRefused() throws {
        var zlib = try ContentEncoding.deflate.compress(Self.sample)
        zlib[zlib.count - 1] ^= 0xFF
        #expect(throws: ProtocolError.corruptStream) { try ContentEncoding.deflate.decompress(zlib) }
        var gzip = try ContentEncoding.gzip.compress(Self.sample)
        gzip[gzip.count - 5] ^= 0xFF  // CRC-32
        #expect(throws: ProtocolError.corruptStream) { try ContentEncoding.gzip.decompress(gzip) }
    }

    @Test(arguments: [ContentEncoding.deflate, .gzip])
    func theIncrementalInflaterAcceptsAnySplit(_ encoding: ContentEncoding) throws {
        let compressed = try encoding.compress(Self.sample)
        for chunkSize in [1, 2, 3, 7, 64, 1000, compressed.count] {
            let inflater = try Inflater(encoding: encoding)
            var offset = 0
            while offset < compressed.count {
                let end = min(offset + chunkSize, compressed.count)
                try inflater.feed(compressed[offset..<end])
                offset = end
            }
            #expect(inflater.isStreamEnded)
            #expect(inflater.compressedBytesReceived == compressed.count)
            #expect(try inflater.finish() == Self.sample)
        }
    }

    @Test func theStreamingDeflaterMatchesOneShotCompression() throws {
        let deflater = try Deflater(encoding: .deflate)
        var streamed: [UInt8] = []
        for start in stride(from: 0, to: Self.sample.count, by: 333) {
            streamed += try deflater.update(Self.sample[start..<min(start + 333, Self.sample.count)])
        }
        streamed += try deflater.finish()
        #expect(try ContentEncoding.deflate.decompress(streamed) == Self.sample)
    }

    @Test func compressAndInflateRoundTripOnRandomInputs() throws {
        try Property.check("compressAndInflateRoundTripOnRandomInputs", cases: 10_000) { rng in
            let length = rng.int(0...2048)
            let input: [UInt8]
            if rng.chance(0.5) {
                input = rng.bytes(length)
            } else {
                // Compressible: runs drawn from a small alphabet.
                let alphabet = rng.bytes(rng.int(1...8))
                input = (0..<length).map { _ in rng.pick(alphabet) }
            }
            let encoding = rng.pick(ContentEncoding.allCases)
            let level = rng.int(0...9)
            let compressed = try encoding.compress(input, level: level)
            let inflater = try Inflater(encoding: encoding)
            var offset = 0
            while offset < compressed.count {
                let end = min(compressed.count, offset + rng.int(1...512))
                try inflater.feed(compressed[offset..<end])
                offset = end
            }
            let output = try inflater.finish()
            return output == input ? nil : "\(encoding) level \(level) did not give the input back"
        }
    }

    // MARK: Truncation and trailing data

    @Test(arguments: [ContentEncoding.deflate, .gzip])
    func everyTruncationIsRefused(_ encoding: ContentEncoding) throws {
        let compressed = try encoding.compress(Self.sample)
        for length in 0..<compressed.count {
            let cut = Array(compressed[..<length])
            #expect(throws: ProtocolError.truncatedStream, "cut at \(length)") {
                try encoding.decompress(cut)
            }
        }
    }

    @Test(arguments: [ContentEncoding.deflate, .gzip])
    func trailingGarbageIsRefused(_ encoding: ContentEncoding) throws {
        let compressed = try encoding.compress(Self.sample)
        #expect(throws: ProtocolError.trailingData) { try encoding.decompress(compressed + [0]) }
        #expect(throws: ProtocolError.trailingData) { try encoding.decompress(compressed + Array("garbage".utf8)) }
        // A second stream (or gzip member) after the first is trailing data too.
        #expect(throws: ProtocolError.trailingData) { try encoding.decompress(compressed + compressed) }
        // Trailing bytes arriving in a later chunk, after the stream ended.
        let inflater = try Inflater(encoding: encoding)
        try inflater.feed(compressed)
        #expect(inflater.isStreamEnded)
        #expect(throws: ProtocolError.trailingData) { try inflater.feed([0x0A]) }
        // A spent inflater keeps refusing.
        #expect(throws: ProtocolError.trailingData) { try inflater.finish() }
    }

    // MARK: Limits

    @Test func theBodyLimitCountsBytesAsTheyArrive() throws {
        var limits = ProtocolLimits()
        limits.maxBodyBytes = 1000
        let inflater = try Inflater(encoding: .identity, limits: limits)
        try inflater.feed([UInt8](repeating: 1, count: 600))
        #expect(throws: ProtocolError.bodyTooLarge) { try inflater.feed([UInt8](repeating: 1, count: 401)) }
        #expect(ProtocolError.bodyTooLarge.httpStatus == 413)
        let random = SeededRandom(seed: 1)
        var rng = random
        let incompressible = try ContentEncoding.deflate.compress(rng.bytes(5000))
        #expect(throws: ProtocolError.bodyTooLarge) {
            try ContentEncoding.deflate.decompress(incompressible, limits: limits)
        }
    }

    @Test func theDecompressedLimitStopsInflationEarly() throws {
        var limits = ProtocolLimits()
        limits.maxDecompressedBytes = 100_000
        limits.maxExpansionRatio = .max
        let compressed = try ContentEncoding.deflate.compress([UInt8](repeating: 7, count: 1_000_000))
        let inflater = try Inflater(encoding: .deflate, limits: limits)
        #expect(throws: ProtocolError.decompressedTooLarge) { try inflater.feed(compressed) }
        #expect(inflater.highWaterMark <= limits.maxDecompressedBytes + limits.inflateChunkBytes)
        // Exactly at the limit is fine.
        let exact = try ContentEncoding.deflate.compress([UInt8](repeating: 7, count: 100_000))
        #expect(try ContentEncoding.deflate.decompress(exact, limits: limits).count == 100_000)
    }

    @Test func theExpansionRatioIsCheckedPastTheFloorOnly() throws {
        // Under the 1 MiB floor, any ratio passes: 512 KiB of spaces compress about 1,000×.
        let small = [UInt8](repeating: 0x20, count: 512 << 10)
        #expect(try ContentEncoding.deflate.decompress(try ContentEncoding.deflate.compress(small)) == small)
        // Past it, the same kind of data is refused.
        let large = [UInt8](repeating: 0x20, count: 3 << 20)
        #expect(throws: ProtocolError.expansionRatioExceeded) {
            try ContentEncoding.deflate.decompress(try ContentEncoding.deflate.compress(large))
        }
        // Text-like data past the floor (about 1.7× here) passes.
        var rng = SeededRandom(seed: 7)
        let varied = (0..<(2 << 20)).map { _ in UInt8(ascii: "a") + UInt8(rng.int(0...25)) }
        #expect(try ContentEncoding.deflate.decompress(try ContentEncoding.deflate.compress(varied)) == varied)
    }

    /// 1 GiB of zeros, streamed through deflate: about 1 MB compressed, a 1,000× bomb.
    static let bomb: [UInt8] = {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        guard let deflater = try? Deflater(encoding: .deflate, level: 6) else { return [] }
        var compressed: [UInt8] = []
        for _ in 0..<1024 { compressed += (try? deflater.update(zeros)) ?? [] }
        compressed += (try? deflater.finish()) ?? []
        return compressed
    }()

    @Test func aDeflateBombIsRefusedByTheRatioLimit() throws {
        let bomb = Self.bomb
        #expect(bomb.count > 900_000 && bomb.count < 1_200_000)
        let limits = ProtocolLimits()
        let inflater = try Inflater(encoding: .deflate, limits: limits)
        var thrown: ProtocolError?
        do {
            for start in stride(from: 0, to: bomb.count, by: 16 << 10) {
                try inflater.feed(bomb[start..<min(start + (16 << 10), bomb.count)])
            }
        } catch {
            thrown = error
        }
        #expect(thrown == .expansionRatioExceeded)
        print(
            "Deflate bomb (1 GiB of zeros, \(bomb.count) bytes compressed), default limits: refused after reading "
                + "\(inflater.compressedBytesReceived) bytes, holding at most \(inflater.highWaterMark) bytes"
        )
        #expect(thrown?.httpStatus == 413)
        // Refused barely past the 1 MiB floor, having read a few KiB of the bomb.
        #expect(inflater.highWaterMark <= 2 * limits.expansionRatioFloorBytes + limits.inflateChunkBytes)
        #expect(inflater.compressedBytesReceived <= 64 << 10)
    }

    @Test func aDeflateBombIsRefusedByTheSizeLimitWithBoundedMemory() throws {
        let bomb = Self.bomb
        var limits = ProtocolLimits()
        limits.maxExpansionRatio = .max  // let the size limit do the work
        let inflater = try Inflater(encoding: .deflate, limits: limits)
        #expect(throws: ProtocolError.decompressedTooLarge) { try inflater.feed(bomb) }
        print(
            "Deflate bomb, ratio limit off: refused at the \(limits.maxDecompressedBytes)-byte limit, "
                + "holding at most \(inflater.highWaterMark) bytes (limit + chunk = "
                + "\(limits.maxDecompressedBytes + limits.inflateChunkBytes))"
        )
        // Never more than the limit plus one chunk.
        #expect(inflater.highWaterMark <= limits.maxDecompressedBytes + limits.inflateChunkBytes)
        #expect(inflater.highWaterMark >= limits.maxDecompressedBytes / 2)
        // The codec refuses it the same way, whatever the message type.
        let codec = MessageCodec(limits: limits)
        #expect(throws: ProtocolError.decompressedTooLarge) {
            try codec.decode(
                Relais_V1_PushRequest.self,
                from: bomb,
                contentType: "application/x-protobuf",
                contentEncoding: "deflate"
            )
        }
    }
}
