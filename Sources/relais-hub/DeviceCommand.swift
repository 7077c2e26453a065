import ArgumentParser
import Foundation
import RelaisCore
import RelaisHub

struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device", abstract: "List or revoke enrolled devices.", subcommands: [List.self, Revoke.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the devices with their sync state.",
            discussion: "  relais-hub device list --data /var/lib/relais --json")

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (devices, head) = try await withHub(store) { hub in
                (try await hub.devices(), try await hub.store.read { tx in try await tx.meta().head })
            }
            func status(_ device: Device) -> String {
                if device.revokedAt != nil { return "revoked" }
                if let renewed = device.renewedTo { return "renewed as \(renewed.rawValue)" }
                return "active"
            }
            if json {
                try printJSON(devices.map { DeviceJSON.object($0, head: head) })
            } else {
                print("REPLICA\tUSER\tNAME\tSTATUS\tCOUNTER\tCURSOR\tCLAMPED")
                for device in devices {
                    print(
                        "\(device.replica.rawValue)\t\(device.user)\t\(device.name)\t\(status(device))\t"
                            + "\(device.highestCounter)\t\(device.acknowledgedCursor)\t\(device.clampedWrites)")
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
}
