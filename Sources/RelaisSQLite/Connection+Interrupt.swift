internal import CRelaisSQLite
internal import Synchronization

extension Connection {
    /// Interrupts a connection's running statement from any thread or task.
    ///
    /// This is the one `Sendable` part of a ``Connection``: pass it to a cancellation handler while
    /// the connection works in its own isolation domain.
    ///
    /// ```swift
    /// let handle = connection.interruptHandle
    /// try await withTaskCancellationHandler {
    ///     try await database.runLongQuery()
    /// } onCancel: {
    ///     handle.interrupt()
    /// }
    /// ```
    ///
    /// Interrupting stops the statements running at that moment, which throw
    /// ``SQLiteError/isInterrupted``; an open transaction may be rolled back. When no statement is
    /// running, it has no effect. After the connection closes, it does nothing, safely.
    public final class InterruptHandle: Sendable {
        /// The address of the connection's `sqlite3` object while it is open, 0 once closed (an
        /// integer, being `Sendable`). The lock keeps `close` from freeing it while
        /// `sqlite3_interrupt` runs.
        private let database: Mutex<Int>

        internal init(_ handle: OpaquePointer) {
            database = Mutex(Int(bitPattern: handle))
        }

        /// Asks SQLite to stop the connection's running statements as soon as it can.
        public func interrupt() {
            database.withLock { address in
                if let handle = OpaquePointer(bitPattern: address) {
                    sqlite3_interrupt(handle)
                }
            }
        }

        /// Detaches the handle before the connection closes.
        internal func invalidate() {
            database.withLock { $0 = 0 }
        }

        /// Reattaches the handle when closing failed.
        internal func restore(_ handle: OpaquePointer) {
            let address = Int(bitPattern: handle)
            database.withLock { $0 = address }
        }
    }
}
