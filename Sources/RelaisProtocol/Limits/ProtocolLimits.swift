/// Every bound the codec enforces on a body, each configurable.
///
/// The defaults suit the hub and its clients alike. Raise a limit on both sides together: a client
/// must not send what its hub refuses (check ``maxFieldValueBytes`` before queuing an edit, so a
/// too-large value is refused to the user at once rather than blocking the queue later).
///
/// ```swift
/// var limits = ProtocolLimits()
/// limits.maxWritesPerBatch = 500
/// let codec = MessageCodec(limits: limits)
/// ```
public struct ProtocolLimits: Hashable, Sendable {
    /// The most bytes a body may have as received, before decompression. Default 8 MiB.
    ///
    /// Counted on the bytes that arrive, never taken from `Content-Length`.
    public var maxBodyBytes: Int = 8 << 20

    /// The most bytes a body may inflate to. Default 64 MiB.
    ///
    /// Checked while inflating, chunk by chunk: a larger body is refused as soon as it crosses the limit.
    public var maxDecompressedBytes: Int = 64 << 20

    /// The most decompressed bytes per compressed byte read so far. Default 100.
    ///
    /// Real data compresses 4–6× (a page of 1,000 customers) and rarely past 20×; a deflate bomb
    /// expands about 1,000×. Checked once more than ``expansionRatioFloorBytes`` are out, so small
    /// highly compressible bodies (an empty batch, a run of identical writes) always pass.
    public var maxExpansionRatio: Int = 100

    /// Decompressed bytes below which the expansion ratio is not checked. Default 1 MiB.
    public var expansionRatioFloorBytes: Int = 1 << 20

    /// The most writes in one push batch. Default 1,000.
    public var maxWritesPerBatch: Int = 1000

    /// The most bytes one field value may have. Default 64 KiB.
    ///
    /// Text and dates count their UTF-8 bytes; a set counts each item's UTF-8 bytes plus one.
    public var maxFieldValueBytes: Int = 64 << 10

    /// The most bytes of an identifier: a collection, field or record id. Default 256.
    public var maxIdentifierBytes: Int = 256

    /// The most entries in one version vector. Default 65,536.
    public var maxVectorEntries: Int = 65_536

    /// The deepest nesting of a JSON body (objects and arrays, the top level counting 1), and of
    /// messages within messages in a binary body. Default 32; the deepest real message nests 7.
    public var maxNestingDepth: Int = 32

    /// The most records (and, separately, revocations) in one pull page. Default 1,000.
    ///
    /// The hub clamps a requested page size to this (``pageSize(requested:)``).
    public var maxPageSize: Int = 1000

    /// The bytes of records and revocations after which the hub ends a pull page, encoded (protobuf)
    /// and before compression, even short of ``maxPageSize``. Default 2 MiB. A page always carries
    /// at least one record, and one record is at most its fields' ``maxFieldValueBytes`` each, so a
    /// page stays within ``maxBodyBytes`` however little its values compress, for a collection of up
    /// to about 90 fields: 1,000 customers with long notes would otherwise make a page that no client
    /// could read.
    public var maxPageBytes: Int = 2 << 20

    /// The most replica numbers a rejoin names in `EnrollRequest.earlier_replicas` (the file's numbers
    /// before its current one); the hub refuses more with 400. Default 64.
    public var maxEarlierReplicas: Int = 64

    /// The size of the buffer inflation writes into. Default 64 KiB.
    ///
    /// Memory held by an ``Inflater`` never exceeds ``maxDecompressedBytes`` plus this.
    public var inflateChunkBytes: Int = 64 << 10

    /// The default limits.
    public init() {}

    /// The default limits.
    public static let `default` = ProtocolLimits()

    /// The page size the hub serves for a requested one: 0 asks for the maximum, and larger requests
    /// are clamped to ``maxPageSize``.
    public func pageSize(requested: UInt32) -> Int {
        requested == 0 ? maxPageSize : min(Int(requested), maxPageSize)
    }
}
