public import Hummingbird
public import NIOCore

/// The hub's request context: Hummingbird's basic one plus the address the request came from, which
/// the rate limits of enrollment and sign-in key on.
public struct HubRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's address; `nil` in router tests, which have no socket.
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// The peer's IP address as text (`unknown` without a socket): the key of per-address limits.
    var peer: String { remoteAddress?.ipAddress ?? "unknown" }
}
