import ArgumentParser
import Foundation
import RelaisCore
import RelaisHub

struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device", abstract: "List, revoke or wipe enrolled devices.",
        subcommands: [List.self, Revoke.self, Wipe.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the devices with their sync state.",
            discussion: "  relais-hub device list --data /var/lib/relais --json")

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (devices, head, verifications) = try await withHub(store) { hub in
                (
                    try await hub.devices(), try await hub.store.read { tx in try await tx.meta().head },
                    try await hub.deviceVerifications()
                )
            }
            func status(_ device: Device) -> String {
                if device.wipedAt != nil {
                    return "wiped (\(device.wipeSavedWrites ?? 0) writes saved, \(device.wipeUnsavedWrites ?? 0) not)"
                }
                if device.revokedAt != nil { return "revoked" }
                if device.wipeRequestedAt != nil { return "wipe requested" }
                if let renewed = device.renewedTo { return "renewed as \(renewed.rawValue)" }
                return "active"
            }
            if json {
                try printJSON(
                    devices.map { DeviceJSON.object($0, head: head, verification: verifications[$0.replica]) })
            } else {
                print("REPLICA\tUSER\tNAME\tSTATUS\tCOUNTER\tCURSOR\tCLAMPED\tVERIFIED")
                for device in devices {
                    let verified = verifications[device.replica].map {
                        "\(DeviceJSON.summary($0)) at \(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double($0.at) / 1000)))"
                    }
                    print(
                        "\(device.replica.rawValue)\t\(device.user)\t\(device.name)\t\(status(device))\t"
                            + "\(device.highestCounter)\t\(device.acknowledgedCursor)\t\(device.clampedWrites)\t"
                            + (verified ?? "never"))
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a device: its token stops working at once (works while `serve` runs).",
            discussion: "  relais-hub device revoke 7 --data /var/lib/relais")

        @Argument(help: "The device's replica number.") var replica: UInt32
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let device = try await withHub(store) { hub in try await hub.revokeDevice(ReplicaID(replica)) }
            print("Revoked replica \(device.replica.rawValue) (\(device.user), \(device.name)).")
        }
    }

    struct Wipe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Wipe a lost laptop at its next contact: it pushes what it holds, erases its replica and reports.",
            discussion: """
                  relais-hub device wipe 7 --data /var/lib/relais

                Until the laptop reports, `device list` shows "wipe requested" and the hub serves it nothing
                more; afterwards "wiped" with how many of its writes were saved. A laptop that never
                contacts the hub again is never wiped: revoke it as well if it may have been stolen.
                """)

        @Argument(help: "The device's replica number.") var replica: UInt32
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let device = try await withHub(store) { hub in try await hub.requestWipe(ReplicaID(replica)) }
            print(
                "Replica \(device.replica.rawValue) (\(device.user), \(device.name)) will erase its replica at its "
                    + "next contact, after pushing what it holds.")
        }
    }
}
