/// One simulated schedule: N laptops and one hub on loopback, random offline edits and syncs under a
/// seeded fault, then a quiet phase and the invariants (docs/RELIABILITY.md).
public enum SimSchedule {
    /// Runs schedule `schedule` of the run seeded with `seed`, with the fault `kind` (by default the
    /// one the rotation gives that number). The same seed, number and kind replay the same edits,
    /// syncs and faults.
    public static func run(seed: UInt64, schedule: Int, kind: SimFaultKind? = nil) async throws -> SimReport {
        let fault = kind ?? SimFaultKind.rotation[schedule % SimFaultKind.rotation.count]
        let hubClock = TestClock()
        return try await HubFixture.with(
            store: .sqlite, configuration: Simulation.hubConfiguration, clock: hubClock
        ) { hub in
            try await hub.live { url in
                var proxy: SimTCPProxy?
                if fault == .cutConnection || fault == .mixed,
                    let port = url.split(separator: ":").last.flatMap({ UInt16($0) })
                {
                    let rate = fault == .mixed ? 0.1 : 0.35
                    proxy = try SimTCPProxy(
                        targetPort: port, seed: seed ^ UInt64(schedule) ^ 0xC07, cutRequest: rate, cutResponse: rate)
                }
                defer { proxy?.stop() }
                var sim = Simulation(
                    seed: seed, schedule: schedule, fault: fault, hub: hub, hubClock: hubClock, url: url, proxy: proxy)
                return try await sim.run()
            }
        }
    }
}
