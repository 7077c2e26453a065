import Logging
import PostgresNIO

/// A statement was not sent because its connection had closed (the server went away).
struct PostgresConnectionClosed: Error {}

/// The only ways the PostgreSQL store sends a statement. They work around two defects of postgres-nio
/// (1.33) that showed when the server was restarted under load (`pg_ctl restart -m immediate`, the
/// fault simulation's `postgresRestart`):
///
/// - A query written to a connection that has already closed is dropped without being failed: its
///   caller waits forever. That is exactly the next statement after the server died under a
///   transaction (the `ROLLBACK` after a failed `COMMIT`), or the first one on a pooled connection
///   whose server went away while it sat idle. Each statement is therefore refused at once, with
///   ``PostgresConnectionClosed``, when its connection has closed. The check leaves a window of a few
///   microseconds (the connection closing between the check and the write reaching its event loop).
/// - A row stream read with back-pressure (an `AsyncSequence` whose consumer has not asked for more
///   yet) crashes the process with a precondition failure ("How can we receive a body part, after a
///   channelReadComplete, but no read has been forwarded yet") when the connection dies under it.
///   Every statement therefore reads its rows at once, through the `EventLoopFuture` interface, which
///   asks for the next rows as soon as rows arrive and so never waits for demand; the long lists
///   (exports, the dashboard) are read in keyset pages (``PostgresHubTransaction``).
extension PostgresConnection {
    /// Every row of `query`, read at once.
    func rows(of query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        if isClosed { throw PostgresConnectionClosed() }
        let result: EventLoopFuture<PostgresQueryResult> = self.query(query, logger: logger)
        return try await result.get().rows
    }

    /// Runs `query` and drops its rows.
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        _ = try await rows(of: query, logger: logger)
    }

    /// Ends the transaction under way with `ROLLBACK`. A connection on which that fails is closed, so
    /// that its pool never lends out a connection still inside a transaction.
    func rollBack(logger: Logger) async {
        do {
            try await run("ROLLBACK", logger: logger)
        } catch {
            if !isClosed { try? await close() }
        }
    }
}
