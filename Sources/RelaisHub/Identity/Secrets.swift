import Crypto
import Foundation

/// Makes the secrets the hub hands out: device and admin tokens, and one-time enrollment codes.
///
/// Only the SHA-256 of a secret is stored (``Secrets/hash(_:)``); the secret itself is shown once.
/// Inject a deterministic generator in tests; the default reads the system's secure random source.
public struct SecretGenerator: Sendable {
    let randomBytes: @Sendable (Int) -> [UInt8]

    /// A generator drawing `count` bytes from `randomBytes`.
    public init(randomBytes: @escaping @Sendable (Int) -> [UInt8]) {
        self.randomBytes = randomBytes
    }

    /// The system's cryptographically secure generator.
    ///
    /// Eight bytes per draw from the system generator (one `getrandom` call each), not one: a
    /// conflict report's id took sixteen system calls, a twentieth of a conflicting push.
    public static let system = SecretGenerator { count in
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            withUnsafeBytes(of: generator.next()) { bytes.append(contentsOf: $0) }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }

    /// A bearer token: `rlt_` and 43 characters of base64url (256 random bits).
    public func token() -> String {
        "rlt_" + Secrets.base64URL(randomBytes(32))
    }

    /// A hub epoch: 32 lowercase hexadecimal digits (128 random bits).
    public func hubEpoch() -> String {
        randomBytes(16).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    /// A one-time enrollment code a person can read out and type: four groups of four characters of
    /// an alphabet without look-alikes (`7KQD-M2PX-...`), 80 random bits.
    public func enrollmentCode() -> String {
        let alphabet = Array("23456789ABCDEFGHJKLMNPQRSTUVWXYZ")  // 32 symbols, no 0/O, 1/I.
        let bytes = randomBytes(16)
        let symbols = bytes.map { alphabet[Int($0) & 31] }
        return stride(from: 0, to: 16, by: 4).map { String(symbols[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// A random UUID in lowercase canonical form (conflict report ids).
    public func uuid() -> String {
        var bytes = randomBytes(16)
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Hashing of secrets and write digests.
public enum Secrets {
    /// The lowercase hex SHA-256 of a secret's UTF-8 bytes: what the store keeps instead of the secret.
    ///
    /// Enrollment codes are normalised first (upper case, no spaces or dashes), so a code typed with
    /// other grouping still matches.
    public static func hash(_ secret: String) -> String {
        hex(SHA256.hash(data: Array(secret.utf8)))
    }

    /// The hash of an enrollment code as typed: case, spaces and dashes are ignored.
    public static func hashEnrollmentCode(_ code: String) -> String {
        let normalised = code.uppercased().filter { $0 != "-" && $0 != " " }
        return hash(normalised)
    }

    /// `token`, sealed (ChaCha20-Poly1305, base64) with a key derived from an enrollment's `attempt`
    /// by HKDF-SHA256: the store keeps it beside the attempt's hash, from which the key cannot be
    /// had, so that only the same attempt opens it (``openToken(_:attempt:)``).
    public static func sealToken(_ token: String, attempt: String) throws -> String {
        try ChaChaPoly.seal(Data(token.utf8), using: tokenKey(attempt)).combined.base64EncodedString()
    }

    /// The token ``sealToken(_:attempt:)`` sealed, or nil when `attempt` is not the one it was
    /// sealed with (or `sealed` is damaged).
    public static func openToken(_ sealed: String, attempt: String) -> String? {
        guard let combined = Data(base64Encoded: sealed), let box = try? ChaChaPoly.SealedBox(combined: combined),
            let token = try? ChaChaPoly.open(box, using: tokenKey(attempt))
        else { return nil }
        return String(decoding: token, as: UTF8.self)
    }

    private static func tokenKey(_ attempt: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(attempt.utf8)), info: Data("relais enrollment token".utf8),
            outputByteCount: 32)
    }

    /// The SHA-256 of some bytes, as 32 bytes.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

extension String {
    func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
