import RelaisCore
import RelaisProtocol

/// The golden test vectors: each message committed under Protocol/vectors/ as `<name>.bin`
/// (binary protobuf), `<name>.deflate` (the same, zlib format, level 6) and `<name>.json`
/// (canonical JSON, pretty-printed).
///
/// The catalog is the source of truth: `scripts/write-vectors.sh` (which
/// `scripts/generate-protocol.sh --vectors` runs) rewrites the files from it, and GoldenVectorTests
/// checks the files against it.
struct GoldenVector: Sendable {
    let name: String
    let type: String
    let summary: String
    /// The message's binary encoding.
    let binary: @Sendable (MessageCodec) throws -> [UInt8]
    /// The message's canonical JSON encoding (compact).
    let json: @Sendable (MessageCodec) throws -> [UInt8]
    /// Decodes `bytes` as this vector's type and tells whether it equals the catalog's message.
    let matches: @Sendable (MessageCodec, [UInt8], WireFormat, ContentEncoding) throws -> Bool
    /// Decodes `bytes` in one format, re-encodes in another (compact JSON or binary).
    let transcode: @Sendable (MessageCodec, [UInt8], WireFormat, WireFormat) throws -> [UInt8]

    init<M: WireMessage>(_ name: String, _ summary: String, _ message: M) {
        self.name = name
        self.type = M.wireName
        self.summary = summary
        binary = { codec in try codec.encode(message, format: .protobuf) }
        json = { codec in try codec.encode(message, format: .json) }
        matches = { codec, bytes, format, encoding in
            try codec.decode(M.self, from: bytes, format: format, encoding: encoding) == message
        }
        transcode = { codec, bytes, from, to in
            try codec.encode(codec.decode(M.self, decompressed: bytes, format: from), format: to)
        }
    }
}

enum GoldenVectors {
    /// The index of Protocol/vectors/ (its README.md): what the files are and one line per vector.
    static func index() -> String {
        var text = """
            # Golden test vectors

            Each vector is one `relais.v1` message in three files:

            - `<name>.bin`: the binary Protocol Buffers encoding (deterministic: fields in number order,
              map entries sorted by key);
            - `<name>.deflate`: the same bytes compressed in the zlib format (RFC 1950, what
              `Content-Encoding: deflate` means), level 6. Other zlib builds may compress to different
              bytes; what must match is the message they inflate to;
            - `<name>.json`: the proto3 canonical JSON encoding, pretty-printed (two-space indent).

            An implementation passes when, for every vector, it decodes all three files to equal messages,
            re-encodes the message to exactly the bytes of `.bin`, and (if it writes JSON) to JSON that
            parses to the same message. The Swift implementation checks this in
            `Tests/RelaisProtocolTests/GoldenVectorTests.swift`; the files are written from the catalog in
            `Tests/RelaisProtocolTests/Support/GoldenVectors.swift` by `scripts/write-vectors.sh`. Do not
            edit them by hand.

            | vector | message | what it covers |
            |---|---|---|

            """
        for vector in GoldenVectors.all {
            text += "| `\(vector.name)` | `\(vector.type)` | \(vector.summary) |\n"
        }
        return text
    }

    // Fixed, readable ids and times so the vectors never change between runs.
    static let customerA = "0f8e4a52-6b1d-4c2e-9a57-3d2f1e0b7c11"
    static let customerB = "5b2c9d7e-1a3f-4e8b-8c6d-2f9a0b1c3d44"
    static let interaction = "a7c3e1f9-2b4d-4f6a-8e0c-9d1b3a5c7e22"
    static let t0: UInt64 = 1_764_316_800_000  // 2025-11-28T08:00:00Z

    static func hlc(_ offsetMillis: UInt64, _ logical: UInt16 = 0) -> UInt64 {
        HLC(physicalMillis: t0 + offsetMillis, logical: logical).rawValue
    }

    static func vector(_ entries: [UInt32: UInt64]) -> Relais_V1_VersionVector {
        Relais_V1_VersionVector(
            VersionVector(Dictionary(uniqueKeysWithValues: entries.map { (ReplicaID($0.key), $0.value) }))
        )
    }

    static func dot(_ replica: UInt32, _ counter: UInt64) -> Relais_V1_Dot {
        Relais_V1_Dot(Dot(replica: ReplicaID(replica), counter: counter))
    }

    static func write(
        _ collection: String,
        _ id: String,
        context: [UInt32: UInt64],
        dot: (UInt32, UInt64),
        hlc: UInt64,
        fields: [(String, Value)] = [],
        delete: Bool = false
    ) -> Relais_V1_RecordWrite {
        var write = Relais_V1_RecordWrite()
        write.collection = collection
        write.recordID = id
        write.context = vector(context)
        write.dot = Self.dot(dot.0, dot.1)
        write.hlc = hlc
        write.fields = fields.map { Relais_V1_FieldValue(field: $0.0, value: $0.1) }
        write.delete = delete
        return write
    }

    static func push(_ writes: [Relais_V1_RecordWrite], replica: UInt32 = 7) -> Relais_V1_PushRequest {
        var push = Relais_V1_PushRequest()
        push.replica = replica
        push.epoch = 1
        push.schemaVersion = 3
        push.writes = writes
        return push
    }

    static let all: [GoldenVector] = [
        GoldenVector(
            "push-request",
            "A typical batch: a status and phone edit, a new interaction record created whole.",
            push([
                write(
                    "customers",
                    customerA,
                    context: [0: 4, 3: 12, 7: 40],
                    dot: (7, 41),
                    hlc: hlc(1_000),
                    fields: [("status", .text("at_risk")), ("phone", .text("+33 4 78 00 12 34"))]
                ),
                write(
                    "interactions",
                    interaction,
                    context: [:],
                    dot: (7, 42),
                    hlc: hlc(2_000, 1),
                    fields: [
                        ("customer_id", .text(customerA)), ("kind", .text("complaint")),
                        ("at", .date("2025-11-28T08:00:02Z")), ("author", .text("claire")),
                        ("summary", .text("Late delivery, second time this month")),
                        ("satisfaction", .number(2)), ("follow_up_on", .date("2025-12-01")),
                        ("resolved", .bool(false)),
                    ]
                ),
            ])
        ),
        GoldenVector("push-request-empty", "An empty batch (a client with nothing pending).", push([])),
        GoldenVector(
            "push-request-delete",
            "A delete: no fields, `delete: true`.",
            push([write("contacts", customerB, context: [7: 3, 12: 9], dot: (7, 43), hlc: hlc(3_000), delete: true)])
        ),
        GoldenVector(
            "push-request-values",
            "Every value kind: a set (`tags`), null, a number, a bool, a date, text.",
            push([
                write(
                    "customers",
                    customerB,
                    context: [0: 1, 7: 43],
                    dot: (7, 44),
                    hlc: hlc(4_000),
                    fields: [
                        ("tags", .stringSet(["vip", "export", "b2b"])), ("email", .null),
                        ("lifetime_value", .number(125_000.5)), ("follow_up_on", .date("2026-01-15")),
                        ("notes", .text("Prefers calls after 14:00.")), ("segment", .text("A")),
                    ]
                )
            ])
        ),
        GoldenVector(
            "push-request-unicode",
            "Unicode text: accents, emoji (astral plane, ZWJ sequence), Arabic and Hebrew (RTL), CJK, combining marks.",
            push([
                write(
                    "customers",
                    customerA,
                    context: [7: 44],
                    dot: (7, 45),
                    hlc: hlc(5_000),
                    fields: [
                        ("name", .text("Boulangerie Ève & Fils — Ñandú 🥐")),
                        ("notes", .text("مرحبا بكم • שלום • 你好 • 👩‍👩‍👧 • e\u{301}")),
                        ("tags", .stringSet(["😀", "عربي", "עברית"])),
                    ]
                )
            ])
        ),
        GoldenVector(
            "push-request-large-vector",
            "A write whose context vector has 200 entries (replicas 1–200).",
            push([
                write(
                    "customers",
                    customerA,
                    context: Dictionary(uniqueKeysWithValues: (1...200).map { (UInt32($0), UInt64($0) * 1_000 + 7) }),
                    dot: (7, 46),
                    hlc: hlc(6_000),
                    fields: [("status", .text("active"))]
                )
            ])
        ),
        GoldenVector(
            "push-response",
            "One result of each status: applied, conflict (with report ids), rejected.",
            {
                var response = Relais_V1_PushResponse()
                var applied = Relais_V1_WriteResult()
                applied.dot = dot(7, 41)
                applied.status = .applied
                var conflict = Relais_V1_WriteResult()
                conflict.dot = dot(7, 42)
                conflict.status = .conflict
                conflict.conflictIds = ["c-00042", "c-00043"]
                var rejected = Relais_V1_WriteResult()
                rejected.dot = dot(7, 43)
                rejected.status = .rejected
                rejected.code = RejectionCode.outsideTerritory.rawValue
                rejected.reason = "Customer is in territory 'lyon-sud', not one of yours."
                response.results = [applied, conflict, rejected]
                response.head = 10_482
                return response
            }()
        ),
        GoldenVector(
            "pull-request",
            "A pull from cursor 10,400, page size 500.",
            {
                var pull = Relais_V1_PullRequest()
                pull.cursor = 10_400
                pull.pageSize = 500
                pull.counter = 46
                pull.schemaVersion = 3
                return pull
            }()
        ),
        GoldenVector(
            "pull-response",
            "A page: a changed record, a tombstone, a hub (replica 0) write, a revocation.",
            {
                var page = Relais_V1_PullResponse()
                var changed = Relais_V1_RecordVersion()
                changed.collection = "customers"
                changed.recordID = customerA
                changed.vector = vector([0: 5, 3: 12, 7: 41])
                changed.fields = [
                    Relais_V1_FieldVersion(
                        field: "status",
                        value: .text("at_risk"),
                        dot: Dot(replica: ReplicaID(7), counter: 41),
                        hlc: HLC(rawValue: hlc(1_000))
                    ),
                    Relais_V1_FieldVersion(
                        field: "owner",
                        value: .text("marc"),
                        dot: Dot(replica: .hub, counter: 5),
                        hlc: HLC(rawValue: hlc(1_500))
                    ),
                    Relais_V1_FieldVersion(
                        field: "tags",
                        value: .stringSet(["b2b", "vip"]),
                        dot: Dot(replica: ReplicaID(3), counter: 12),
                        hlc: HLC(rawValue: hlc(900, 2))
                    ),
                ]
                changed.seq = 10_431
                var tombstone = Relais_V1_RecordVersion()
                tombstone.collection = "contacts"
                tombstone.recordID = customerB
                tombstone.vector = vector([7: 43, 12: 9])
                tombstone.deleted = true
                tombstone.seq = 10_450
                var revocation = Relais_V1_Revocation()
                revocation.collection = "customers"
                revocation.recordID = "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e55"
                page.records = [changed, tombstone]
                page.revocations = [revocation]
                page.nextCursor = 10_450
                page.more = true
                page.head = 10_482
                return page
            }()
        ),
        GoldenVector(
            "pull-response-compact",
            "A page asked for with compact_dots: three fields of one write carry no dot; the record carries it.",
            {
                var page = Relais_V1_PullResponse()
                var changed = Relais_V1_RecordVersion()
                changed.collection = "customers"
                changed.recordID = customerA
                changed.vector = vector([0: 5, 7: 42])
                var status = Relais_V1_FieldVersion()
                status.field = "status"
                status.value = Relais_V1_Value(.text("lapsed"))
                var city = Relais_V1_FieldVersion()
                city.field = "city"
                city.value = Relais_V1_Value(.text("Besançon"))
                var value = Relais_V1_FieldVersion()
                value.field = "lifetime_value"
                value.value = Relais_V1_Value(.number(18_250.5))
                changed.fields = [
                    status, city, value,
                    Relais_V1_FieldVersion(
                        field: "owner",
                        value: .text("marc"),
                        dot: Dot(replica: .hub, counter: 5),
                        hlc: HLC(rawValue: hlc(1_500))
                    ),
                ]
                changed.seq = 10_460
                changed.dot = Relais_V1_Dot(Dot(replica: ReplicaID(7), counter: 42))
                changed.hlc = hlc(2_000)
                page.records = [changed]
                page.nextCursor = 10_460
                page.head = 10_482
                return page
            }()
        ),
        GoldenVector(
            "pull-response-bootstrap",
            "The cursor is past tombstone retention: empty page, bootstrap required.",
            {
                var page = Relais_V1_PullResponse()
                page.bootstrapRequired = true
                page.head = 10_482
                return page
            }()
        ),
        GoldenVector(
            "enroll-request",
            "A device enrolls with its one-time code.",
            {
                var enroll = Relais_V1_EnrollRequest()
                enroll.code = "K7QX-4M2P-9HTD"
                enroll.deviceName = "Claire's laptop"
                enroll.schemaVersion = 3
                return enroll
            }()
        ),
        GoldenVector(
            "enroll-response",
            "The hub's answer: replica number, token, user, role, territories.",
            {
                var enrolled = Relais_V1_EnrollResponse()
                enrolled.replica = 7
                enrolled.token = "rl_dev_0123456789abcdef0123456789abcdef"
                enrolled.user = "claire"
                enrolled.role = "rep"
                enrolled.territories = ["lyon-nord", "villeurbanne"]
                enrolled.schemaVersion = 3
                enrolled.epoch = 1
                return enrolled
            }()
        ),
        GoldenVector(
            "replica-renew-request",
            "A forked replica (restored backup) asks for a new replica number.",
            {
                var renew = Relais_V1_ReplicaRenewRequest()
                renew.reason = "replica_forked"
                renew.counter = 39
                return renew
            }()
        ),
        GoldenVector(
            "replica-renew-response",
            "The new replica number, token and epoch.",
            {
                var renewed = Relais_V1_ReplicaRenewResponse()
                renewed.replica = 58
                renewed.token = "rl_dev_fedcba9876543210fedcba9876543210"
                renewed.epoch = 2
                return renewed
            }()
        ),
        GoldenVector(
            "error",
            "An error body: `body_too_large` with details (map keys sorted).",
            {
                var error = Relais_V1_Error(ProtocolError.bodyTooLarge)
                error.message = "The body is larger than 8388608 bytes."
                error.details = ["limit": "8388608", "received_bytes": "9000000"]
                return error
            }()
        ),
    ]
}
