import Foundation
import RelaisTesting
import Testing

@testable import RelaisClient

/// `relais status`'s answer to "is this file on an encrypted disk?", from prepared copies of the
/// kernel's tables (docs/SECURITY.md, "A lost laptop").
struct DiskEncryptionTests {
    /// A fake `/proc` and `/sys`: mounts as `(mount point, major:minor, type, source)`, and block
    /// devices as `major:minor` → (dm uuid, slaves as (name, dm uuid)).
    private func tables(
        _ folder: TemporaryFolder, mounts: [(String, String, String, String)],
        devices: [String: (uuid: String?, slaves: [(String, String?)])]
    ) throws -> (proc: String, sys: String) {
        let proc = folder.path + "/proc"
        let sys = folder.path + "/sys"
        try FileManager.default.createDirectory(atPath: proc + "/self", withIntermediateDirectories: true)
        var lines = ""
        for (n, mount) in mounts.enumerated() {
            lines += "\(20 + n) 1 \(mount.1) / \(mount.0) rw,relatime shared:1 - \(mount.2) \(mount.3) rw\n"
        }
        try lines.write(toFile: proc + "/self/mountinfo", atomically: true, encoding: .utf8)
        func device(_ path: String, uuid: String?) throws {
            try FileManager.default.createDirectory(atPath: path + "/dm", withIntermediateDirectories: true)
            if let uuid { try (uuid + "\n").write(toFile: path + "/dm/uuid", atomically: true, encoding: .utf8) }
        }
        for (number, entry) in devices {
            let path = sys + "/dev/block/" + number
            try device(path, uuid: entry.uuid)
            for (name, uuid) in entry.slaves { try device(path + "/slaves/" + name, uuid: uuid) }
        }
        return (proc, sys)
    }

    @Test func aPlainDiskIsNotEncryptedAndLUKSIsWhetherDirectOrUnderLVM() throws {
        let folder = try TemporaryFolder(prefix: "disk")
        defer { folder.remove() }
        let (proc, sys) = try tables(
            folder,
            mounts: [
                ("/", "254:0", "ext4", "/dev/vda"),
                ("/home", "253:1", "ext4", "/dev/mapper/home"),
                ("/srv", "253:4", "xfs", "/dev/mapper/vg-srv"),
                ("/srv/my\\040files", "254:2", "ext4", "/dev/vdb"),
                ("/run/user/1000", "0:40", "tmpfs", "tmpfs"),
                ("/net", "0:52", "nfs4", "server:/export"),
            ],
            devices: [
                "254:0": (nil, []),
                "253:1": ("CRYPT-LUKS2-1f2e-home", []),
                "253:4": ("LVM-abc", [("dm-3", "CRYPT-LUKS2-9a8b-pv"), ("vdc", nil)]),
                "254:2": (nil, []),
            ])
        func check(_ path: String) -> DiskEncryption { DiskEncryption.check(path: path, proc: proc, sys: sys) }
        #expect(check("/var/lib/relais/claire.relais").encrypted == false)
        #expect(check("/var/lib/relais/claire.relais").detail.contains("/dev/vda"))
        #expect(check("/home/claire/customers.relais").encrypted == true)
        #expect(check("/srv/customers.relais") == DiskEncryption(encrypted: true, detail: "dm-crypt (dm-3)"))
        // The deepest mount wins, with its escaped space.
        #expect(check("/srv/my files/customers.relais").encrypted == false)
        #expect(check("/run/user/1000/customers.relais").encrypted == true)
        // A network file system is not a local block device: unknown, never "safe".
        #expect(check("/net/customers.relais").encrypted == nil)
        #expect(DiskEncryption.check(path: "/x", proc: folder.path + "/none", sys: sys).encrypted == nil)
    }

    /// On this machine the answer comes from the real tables, whatever it is.
    @Test func theRealTablesGiveAnAnswerForAReplicaFile() throws {
        let folder = try TemporaryFolder(prefix: "disk-real")
        defer { folder.remove() }
        let answer = DiskEncryption.check(path: folder.file("claire.relais"))
        #expect(!answer.detail.isEmpty)
    }
}
