import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The number of connections the server holds open, shared by every connection's ``ConnectionGuard``.
final class ConnectionCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts a connection in and returns how many there are with it.
    func opened() -> Int { count.wrappingAdd(1, ordering: .relaxed).newValue }

    /// Counts a connection out.
    func closed() { count.wrappingSubtract(1, ordering: .relaxed) }

    /// The connections open now.
    var current: Int { count.load(ordering: .relaxed) }
}

/// One connection's guard, in the pipeline after HTTP decoding: it closes the connection at once when
/// the server already holds its maximum of connections, when the first request's head is not complete
/// within the header timeout of the connection opening, or when a request's body is not complete within
/// the body timeout of its head. Idle connections (no request for a while) are closed by Hummingbird's
/// own idle timeout (``HubServer/Edges/idleTimeout``).
///
/// Nothing is answered on a close: a client that sends its request slowly, or opens one connection too
/// many, gets the connection closed, as from a hub that went away; the laptop retries later.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let count: ConnectionCount
    private let edges: HubServer.Edges
    private let logger: Logger
    private var counted = false
    private var deadline: Scheduled<Void>?

    init(count: ConnectionCount, edges: HubServer.Edges, logger: Logger) {
        self.count = count
        self.edges = edges
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { opened(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        opened(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadline()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelDeadline()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            arm(context, after: edges.bodyTimeout, reason: "its body did not arrive in time")
        case .body:
            break
        case .end:
            cancelDeadline()
        }
        context.fireChannelRead(data)
    }

    private func opened(_ context: ChannelHandlerContext) {
        guard !counted else { return }
        counted = true
        let open = count.opened()
        let count = self.count
        context.channel.closeFuture.whenComplete { _ in count.closed() }
        guard open <= edges.maxConnections else {
            logger.debug(
                "connection refused: too many connections",
                metadata: ["relais.connections": "\(open - 1)", "relais.max_connections": "\(edges.maxConnections)"])
            context.close(promise: nil)
            return
        }
        arm(context, after: edges.headerTimeout, reason: "its request head did not arrive in time")
    }

    private func arm(_ context: ChannelHandlerContext, after timeout: Duration, reason: String) {
        cancelDeadline()
        let logger = self.logger
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            logger.debug("connection closed: \(reason)")
            loopBound.value.close(promise: nil)
        }
    }

    private func cancelDeadline() {
        deadline?.cancel()
        deadline = nil
    }
}
