import RelaisClient

final class SimLaptop {
    let user: String
    let territories: [String]
    let clock: TestClock
    let ids: ClientIDSequence
    var transport: SimFaultTransport
    var replica: Replica
    var path: String
    var backup: (path: String, mark: Int)?
    /// The replica was reopened with a file-size ceiling (the disk-full fault).
    var full = false

    init(
        user: String, territories: [String], clock: TestClock, ids: ClientIDSequence, transport: SimFaultTransport,
        replica: Replica, path: String
    ) {
        self.user = user
        self.territories = territories
        self.clock = clock
        self.ids = ids
        self.transport = transport
        self.replica = replica
        self.path = path
    }
}
