import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP connection to the hub on loopback, closed when released; for what no HTTP client does.
public final class RawSocket: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible { public let description: String }

    private let fd: Int32

    /// Connects to 127.0.0.1:`port`.
    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure(description: "connect: errno \(errno)")
        }
    }

    deinit { close(fd) }

    /// Sends `text`; false when the hub already closed the connection.
    @discardableResult
    public func send(_ text: String) throws -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Sends `text` a byte every 50 ms (over again) for at most `seconds`; true once the hub has closed
    /// the connection.
    public func trickle(_ text: String, for seconds: Double) async throws -> Bool {
        let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var index = text.startIndex
        while ContinuousClock.now < end {
            if try closedNow() { return true }
            guard try send(String(text[index])) else { return true }
            index = text.index(after: index)
            if index == text.endIndex { index = text.startIndex }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try closedNow()
    }

    /// Whether the hub has closed the connection (what it sent before is read and dropped).
    public func closedNow() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 0) > 0 else { return false }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return true }
        }
    }

    /// Whether the hub closes the connection within `seconds`.
    public func closed(within seconds: Double) async throws -> Bool {
        try await eventually(within: .milliseconds(Int64(seconds * 1000))) { try closedNow() }
    }

    /// Sends a request and reads the answer's head and body (by Content-Length), within 10 s.
    public func exchange(_ request: String) async throws -> String {
        try send(request)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) > 0 {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                received += buffer[0..<count]
                let text = String(decoding: received, as: UTF8.self)
                if let range = text.range(of: "\r\n\r\n"),
                    let line = text[..<range.lowerBound].lowercased().split(separator: "\r\n")
                        .first(where: { $0.hasPrefix("content-length:") }),
                    let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)),
                    text[range.upperBound...].utf8.count >= length
                {
                    return text
                }
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        return String(decoding: received, as: UTF8.self)
    }
}
