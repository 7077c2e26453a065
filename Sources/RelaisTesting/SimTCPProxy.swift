import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP proxy on 127.0.0.1 between replicas and a hub that cuts connections at a random byte, in
/// either direction: a cut on the way in loses (part of) a request before the hub commits it; a cut on
/// the way out loses the answer after the hub committed (docs/RELIABILITY.md).
///
/// Each accepted connection draws, from the seeded generator, whether and where it is cut. Threads and
/// blocking sockets keep it independent of the event loops under test.
public final class SimTCPProxy: Sendable {
    private struct State {
        var random: SeededRandom
        var cutRequest: Double
        var cutResponse: Double
        var enabled = true
        var cuts = 0
    }

    /// The port the proxy listens on.
    public let port: UInt16
    private let targetPort: UInt16
    private let listener: Int32
    private let state: Mutex<State>

    /// Listens on a free port of 127.0.0.1 and forwards to `127.0.0.1:targetPort`.
    ///
    /// - Parameters:
    ///   - cutRequest: Probability that a connection is cut after a random number of bytes sent to the hub.
    ///   - cutResponse: Probability that a connection is cut after a random number of bytes sent back.
    public init(targetPort: UInt16, seed: UInt64, cutRequest: Double, cutResponse: Double) throws {
        self.targetPort = targetPort
        state = Mutex(State(random: SeededRandom(seed: seed), cutRequest: cutRequest, cutResponse: cutResponse))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SimNetworkError(what: "proxy socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw SimNetworkError(what: "proxy bind/listen: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        listener = fd
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// The proxy's URL (`http://127.0.0.1:PORT`).
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Connections cut so far.
    public var cuts: Int { state.withLock { $0.cuts } }

    /// Turns cutting on or off (also for connections already open).
    public func setEnabled(_ enabled: Bool) { state.withLock { $0.enabled = enabled } }

    /// Stops accepting connections; open ones end when either side closes.
    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if upstream < 0 || connected != 0 {
                close(client)
                if upstream >= 0 { close(upstream) }
                continue
            }
            let limits = state.withLock { s -> (Int?, Int?) in
                let request = s.random.chance(s.cutRequest) ? s.random.int(0...1500) : nil
                let response = s.random.chance(s.cutResponse) ? s.random.int(0...1500) : nil
                return (request, response)
            }
            let pair = SimSocketPair(client: client, upstream: upstream)
            Thread.detachNewThread { [self] in pump(from: client, to: upstream, limit: limits.0, pair: pair) }
            Thread.detachNewThread { [self] in pump(from: upstream, to: client, limit: limits.1, pair: pair) }
        }
    }

    private func pump(from source: Int32, to target: Int32, limit: Int?, pair: SimSocketPair) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        var total = 0
        var cut = false
        loop: while true {
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            var sendCount = count
            if let limit, total + count > limit, state.withLock({ $0.enabled }) {
                sendCount = max(0, limit - total)
                cut = true
            }
            var offset = 0
            while offset < sendCount {
                let sent = buffer.withUnsafeBytes {
                    send(target, $0.baseAddress! + offset, sendCount - offset, Int32(MSG_NOSIGNAL))
                }
                if sent <= 0 { break loop }
                offset += sent
            }
            total += count
            if cut { break }
        }
        if cut {
            state.withLock { $0.cuts += 1 }
            shutdown(source, Int32(SHUT_RDWR))
            shutdown(target, Int32(SHUT_RDWR))
        } else {
            shutdown(target, Int32(SHUT_WR))
        }
        pair.finished()
    }
}

/// The two sockets of a proxied connection, closed when both directions are done.
final class SimSocketPair: Sendable {
    private let client: Int32
    private let upstream: Int32
    private let done = Mutex(0)

    init(client: Int32, upstream: Int32) {
        self.client = client
        self.upstream = upstream
    }

    func finished() {
        let both = done.withLock { count -> Bool in
            count += 1
            return count == 2
        }
        if both {
            close(client)
            close(upstream)
        }
    }
}
