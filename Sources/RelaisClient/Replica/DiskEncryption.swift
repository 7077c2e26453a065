import Foundation

/// Whether a file lies on an encrypted block device, for `relais status` (docs/SECURITY.md, "A lost
/// laptop"): the replica file holds the customer file in clear, so a lost laptop is only as safe as
/// its disk.
///
/// Linux only, from the kernel's own tables: the mount that holds the file (`/proc/self/mountinfo`,
/// the longest mount point above it), then its block device in sysfs. A device-mapper device whose
/// uuid starts with `CRYPT-` is dm-crypt (LUKS or plain), and so is one stacked on such a device (LVM
/// on LUKS); an `ecryptfs` mount is encrypted too; memory file systems write nothing to disk. What
/// cannot be told from there (per-directory fscrypt, a network or FUSE file system, another system)
/// is reported as unknown, never as safe.
public struct DiskEncryption: Sendable, Hashable {
    /// `true` encrypted, `false` on a plain device, `nil` unknown.
    public var encrypted: Bool?
    /// What was found, in a few words ("dm-crypt (dm-3)", "vda, not encrypted", ...).
    public var detail: String

    /// The answer for `path`. `proc` and `sys` are the roots of those file systems (tests pass a
    /// prepared folder).
    public static func check(path: String, proc: String = "/proc", sys: String = "/sys") -> DiskEncryption {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let mounts = try? String(contentsOfFile: proc + "/self/mountinfo", encoding: .utf8) else {
            return DiskEncryption(encrypted: nil, detail: "unknown: no mount table to read")
        }
        var best: (point: String, device: String, type: String, source: String)?
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard let dash = fields.firstIndex(of: "-"), fields.count > dash + 2, dash >= 5 else { continue }
            let point = unescape(fields[4])
            guard contains(point, target), point.count >= (best?.point.count ?? -1) else { continue }
            best = (point, fields[2], fields[dash + 1], fields[dash + 2])
        }
        guard let mount = best else {
            return DiskEncryption(encrypted: nil, detail: "unknown: no mount holds the file")
        }
        switch mount.type {
        case "ecryptfs": return DiskEncryption(encrypted: true, detail: "ecryptfs")
        case "tmpfs", "ramfs": return DiskEncryption(encrypted: true, detail: "\(mount.type): in memory, never on disk")
        default: break
        }
        let device = sys + "/dev/block/" + mount.device
        guard FileManager.default.fileExists(atPath: device) else {
            return DiskEncryption(
                encrypted: nil, detail: "unknown: \(mount.type) from \(mount.source) is not a local block device")
        }
        if let crypt = cryptDevice(device, name: mount.source, depth: 0) {
            return DiskEncryption(encrypted: true, detail: "dm-crypt (\(crypt))")
        }
        return DiskEncryption(encrypted: false, detail: "\(mount.source) (\(mount.type)), not encrypted")
    }

    /// The name of a dm-crypt device at or under `device` (a sysfs device folder), if any.
    private static func cryptDevice(_ device: String, name: String, depth: Int) -> String? {
        guard depth < 8 else { return nil }
        if let uuid = try? String(contentsOfFile: device + "/dm/uuid", encoding: .utf8), uuid.hasPrefix("CRYPT-") {
            let dmName = (try? String(contentsOfFile: device + "/dm/name", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return dmName.flatMap { $0.isEmpty ? nil : $0 } ?? name
        }
        let slaves = (try? FileManager.default.contentsOfDirectory(atPath: device + "/slaves")) ?? []
        for slave in slaves.sorted() {
            if let found = cryptDevice(device + "/slaves/" + slave, name: slave, depth: depth + 1) { return found }
        }
        return nil
    }

    /// Whether the mount point `point` holds `path`.
    private static func contains(_ point: String, _ path: String) -> Bool {
        point == "/" || path == point || path.hasPrefix(point + "/")
    }

    /// Mount points escape space, tab, newline and backslash as three octal digits (`\040`).
    private static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var bytes: [UInt8] = []
        let source = Array(text.utf8)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "\\"), index + 3 < source.count,
                let code = UInt8(String(decoding: source[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(code)
                index += 4
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
