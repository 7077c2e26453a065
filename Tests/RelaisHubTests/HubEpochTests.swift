import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// The hub epoch (docs/SYNC.md "A restored hub"), on the store `RELAIS_TEST_HUB_STORE` names.
struct HubEpochTests {
    @Test func aRequestNamingAnEarlierHubEpochIsRefusedWithTheCounterTheHubHolds() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            let epoch = try await hub.service.hubEpoch()
            #expect(epoch.count == 32)

            // With the current epoch (or none), pushes and pulls are answered, and name it.
            var push = Wire.push(
                claire.replica, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: claire.nextCounter())]
            )
            push.hubEpoch = epoch
            #expect(try await hub.service.push(push, from: claire.principal).hubEpoch == epoch)
            var pull = Wire.pull(cursor: 0, counter: claire.counter)
            #expect(try await hub.service.pull(pull, from: claire.principal).hubEpoch == epoch)

            // A restore renews it and moves the replica numbers past the gap.
            let renewed = try await hub.service.renewHubEpoch()
            #expect(renewed != epoch && renewed.count == 32)
            let stored = try await hub.store.read { tx in try await tx.hubEpoch() }
            #expect(stored == renewed)

            // A push naming the earlier epoch applies nothing and tells what the hub holds.
            let head = try await hub.store.read { tx in try await tx.meta().head }
            var stale = Wire.push(
                claire.replica, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: claire.nextCounter())]
            )
            stale.hubEpoch = epoch
            await #expect {
                _ = try await hub.service.push(stale, from: claire.principal)
            } throws: { error in
                guard let error = error as? HubError else { return false }
                return error.code == .hubRestored && error.httpStatus == 409
                    && error.details == ["hub_epoch": renewed, "counter": "1"]
            }
            #expect(try await hub.store.read { tx in try await tx.meta().head } == head)
            pull.hubEpoch = epoch
            await #expect {
                _ = try await hub.service.pull(pull, from: claire.principal)
            } throws: { error in
                (error as? HubError)?.details["counter"] == "1"
            }
            // The same push naming the new epoch is applied.
            stale.hubEpoch = renewed
            #expect(try await hub.service.push(stale, from: claire.principal).results.map(\.status) == [.applied])

            // No replica number handed out before the restore is handed out again.
            let bob = try await hub.enrollDevice("bob")
            #expect(bob.replica >= claire.replica + HubService.defaultReplicaGap)
            let bobEnrolled = try await hub.service.enroll(
                Wire.enroll(try await hub.addUser("dora", role: .rep, territories: ["north"]), name: "dora"))
            #expect(bobEnrolled.hubEpoch == renewed)

            // A token the hub does not know (a laptop enrolled after the backup) is told the epoch.
            await #expect {
                _ = try await hub.service.authenticate(token: "rlt_unknown")
            } throws: { error in
                (error as? HubError)?.code == .unauthorized && (error as? HubError)?.details["hub_epoch"] == renewed
            }
        }
    }
}
