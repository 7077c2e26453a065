import RelaisCore
import RelaisProtocol
import RelaisTesting

/// Random valid wire messages for property tests, drawn from a ``SeededRandom``.
struct RandomMessages {
    var rng: SeededRandom

    init(seed: UInt64) { rng = SeededRandom(seed: seed) }
    init(rng: SeededRandom) { self.rng = rng }

    // Scalars from several scripts: ASCII, Latin, Arabic and Hebrew (RTL), CJK, emoji, combining
    // marks, bidi controls, and the odd control character (JSON must escape it).
    private static let scalarRanges: [ClosedRange<UInt32>] = [
        0x20...0x7E, 0x20...0x7E, 0x20...0x7E, 0x00...0x1F, 0xC0...0x17F, 0x0590...0x05FF, 0x0600...0x06FF,
        0x4E00...0x9FFF, 0x1F300...0x1FAFF, 0x0300...0x036F, 0x200E...0x202E, 0xE000...0xF8FF, 0x10000...0x10FFF,
    ]

    mutating func string(maxLength: Int = 24) -> String {
        let length = rng.int(0...maxLength)
        var scalars = String.UnicodeScalarView()
        for _ in 0..<length {
            let range = rng.pick(Self.scalarRanges)
            if let scalar = Unicode.Scalar(UInt32.random(in: range, using: &rng)) { scalars.append(scalar) }
        }
        return String(scalars)
    }

    mutating func identifier() -> String {
        let base = rng.pick(["customers", "contacts", "interactions", "status", "phone", "tags", "notes", "x"])
        guard rng.chance(0.2) else { return base }
        // An identifier holds no NUL character (Protocol/README.md, section 10).
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: (base + string(maxLength: 6)).unicodeScalars.filter { $0 != "\u{0}" })
        return String(scalars)
    }

    mutating func recordID() -> String {
        let hex = Array("0123456789abcdef")
        let groups = [8, 4, 4, 4, 12].map { count in String((0..<count).map { _ in rng.pick(hex) }) }
        return groups.joined(separator: "-")
    }

    mutating func double() -> Double {
        switch rng.int(0...5) {
        case 0: return Double(rng.int(-1_000_000...1_000_000))
        case 1:
            return rng.pick([
                0, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                .leastNonzeroMagnitude, .leastNormalMagnitude, 0.1, 1e21, 1e-7,
            ])
        default:
            while true {
                let d = Double(bitPattern: rng.next())
                if d.isFinite { return d }
            }
        }
    }

    mutating func uint64() -> UInt64 {
        rng.chance(0.5) ? UInt64(rng.int(0...1000)) : rng.next()
    }

    mutating func value() -> Relais_V1_Value {
        switch rng.int(0...5) {
        case 0: return Relais_V1_Value(.null)
        case 1: return Relais_V1_Value(.text(string(maxLength: 60)))
        case 2: return Relais_V1_Value(.number(double()))
        case 3: return Relais_V1_Value(.bool(rng.chance(0.5)))
        case 4: return Relais_V1_Value(.date(rng.chance(0.5) ? "2026-11-28" : "2026-11-28T09:30:00Z"))
        default: return Relais_V1_Value(.stringSet((0..<rng.int(0...5)).map { _ in string(maxLength: 10) }))
        }
    }

    mutating func vector(maxEntries: Int = 6) -> Relais_V1_VersionVector {
        var entries: [ReplicaID: UInt64] = [:]
        for _ in 0..<rng.int(0...maxEntries) {
            entries[ReplicaID(UInt32(rng.int(0...300)))] = UInt64(rng.int(1...100_000))
        }
        return Relais_V1_VersionVector(VersionVector(entries))
    }

    /// Distinct field names.
    mutating func fieldNames() -> [String] {
        let all = ["name", "segment", "status", "phone", "email", "tags", "notes", "city", "lifetime_value", "ünïcode"]
        return Array(all.shuffled(using: &rng).prefix(rng.int(1...4)))
    }

    mutating func pushRequest() -> Relais_V1_PushRequest {
        var push = Relais_V1_PushRequest()
        push.replica = UInt32(rng.int(1...5000))
        push.epoch = UInt32(rng.int(0...3))
        push.schemaVersion = UInt32(rng.int(0...9))
        var counter = UInt64(rng.int(0...1_000_000))
        for _ in 0..<rng.int(0...8) {
            counter += UInt64(rng.int(1...10))
            var write = Relais_V1_RecordWrite()
            write.collection = identifier()
            write.recordID = recordID()
            if rng.chance(0.8) { write.context = vector() }
            write.dot = Relais_V1_Dot(Dot(replica: ReplicaID(push.replica), counter: counter))
            write.hlc = uint64()
            if rng.chance(0.15) {
                write.delete = true
            } else {
                write.fields = fieldNames().map { name in
                    var field = Relais_V1_FieldValue()
                    field.field = name
                    field.value = value()
                    return field
                }
            }
            push.writes.append(write)
        }
        return push
    }

    mutating func pullResponse() -> Relais_V1_PullResponse {
        var pull = Relais_V1_PullResponse()
        pull.nextCursor = uint64()
        pull.head = uint64()
        pull.more = rng.chance(0.5)
        if rng.chance(0.05) {
            pull.bootstrapRequired = true
            return pull
        }
        for _ in 0..<rng.int(0...6) {
            var record = Relais_V1_RecordVersion()
            record.collection = identifier()
            record.recordID = recordID()
            record.vector = vector()
            record.seq = uint64()
            if rng.chance(0.1) {
                record.deleted = true
            } else {
                record.fields = fieldNames().map { name in
                    var field = Relais_V1_FieldVersion()
                    field.field = name
                    field.value = value()
                    field.dot = Relais_V1_Dot(
                        Dot(replica: ReplicaID(UInt32(rng.int(0...300))), counter: UInt64(rng.int(1...99_999)))
                    )
                    field.hlc = uint64()
                    return field
                }
            }
            pull.records.append(record)
        }
        for _ in 0..<rng.int(0...2) {
            var revocation = Relais_V1_Revocation()
            revocation.collection = "customers"
            revocation.recordID = recordID()
            pull.revocations.append(revocation)
        }
        return pull
    }
}
