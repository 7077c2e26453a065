/// The order of a sync session as a value (docs/SYNC.md): push every pending batch, then pull every
/// page; on `bootstrap_required` start a bootstrap and pull from 0; on `replica_forked` renew the
/// replica, pull everything afresh, then push the re-issued writes and pull once more. Transient
/// failures are retried through a ``RetryStateMachine``.
///
/// The caller performs each returned ``Action`` and reports the outcome as the next event; the
/// machine does no I/O, so every path is tested without a network.
public struct SyncStateMachine: Sendable {
    /// What the caller should do next.
    public enum Action: Sendable, Hashable {
        /// Send the next push batch.
        case push
        /// Ask for the next pull page.
        case pull
        /// Start a bootstrap (new generation, cursor 0), then report ``SyncStateMachine/bootstrapStarted()``.
        case beginBootstrap
        /// Ask the hub for a new replica number, re-stamp the pending writes, then report
        /// ``SyncStateMachine/renewed()``.
        case renew
        /// Wait, then perform ``SyncStateMachine/retryAction`` again.
        case wait(Duration)
        /// The session is complete.
        case finish
        /// The session stops with this error.
        case fail(SyncError.Code)
    }

    private enum Phase: Sendable, Hashable {
        case idle, pushing, pulling, done
    }

    private var phase = Phase.idle
    private var retry: RetryStateMachine
    private var renewedOnce = false
    private var restoredOnce = false
    private var bootstrapping = false
    private var pushAfterPull = false
    /// The action to repeat after a ``Action/wait(_:)``.
    public private(set) var retryAction = Action.push

    /// A machine using `retry` for transient failures.
    public init(retry: RetryStateMachine.Configuration = RetryStateMachine.Configuration()) {
        self.retry = RetryStateMachine(configuration: retry)
    }

    /// Starts the session: push first; pull first when `catchingUpWithRestore` (a restored hub's
    /// bootstrap is not complete: nothing is pushed before it is).
    public mutating func start(catchingUpWithRestore: Bool = false) -> Action {
        if catchingUpWithRestore {
            pushAfterPull = true
            phase = .pulling
            return remember(.pull)
        }
        phase = .pushing
        return remember(.push)
    }

    /// A batch was answered. `morePending`: writes remain that were never sent.
    public mutating func pushed(morePending: Bool) -> Action {
        retry.succeeded()
        if morePending { return remember(.push) }
        phase = .pulling
        return remember(.pull)
    }

    /// A page was applied (`more`: the hub has more), or the hub asked for a bootstrap.
    public mutating func pulled(more: Bool, bootstrapRequired: Bool = false) -> Action {
        retry.succeeded()
        if bootstrapRequired {
            // A bootstrap from cursor 0 that is told to bootstrap again would never end.
            if bootstrapping { return finish(.fail(.bootstrapNeeded)) }
            return remember(.beginBootstrap)
        }
        if more { return remember(.pull) }
        if pushAfterPull {
            pushAfterPull = false
            phase = .pushing
            return remember(.push)
        }
        return finish(.finish)
    }

    /// The bootstrap was started (cursor 0, new generation).
    public mutating func bootstrapStarted() -> Action {
        bootstrapping = true
        phase = .pulling
        return remember(.pull)
    }

    /// The hub answered `replica_forked`.
    public mutating func forked() -> Action {
        if renewedOnce { return finish(.fail(.replicaForked)) }
        return remember(.renew)
    }

    /// The hub answered `hub_restored` and the replica put back in its queue what the hub lacks and
    /// started a bootstrap: pull everything, then push. A second restore within one session stops it.
    public mutating func hubRestored() -> Action {
        if restoredOnce { return finish(.fail(.hubRestored)) }
        retry.succeeded()
        restoredOnce = true
        bootstrapping = true
        pushAfterPull = true
        phase = .pulling
        return remember(.pull)
    }

    /// The replica has a new number, its pending writes were re-stamped and a bootstrap started:
    /// pull everything, then push the re-issued writes.
    public mutating func renewed() -> Action {
        retry.succeeded()
        renewedOnce = true
        bootstrapping = true
        pushAfterPull = true
        phase = .pulling
        return remember(.pull)
    }

    /// The last action failed. Transient failures (unreachable, 5xx, 429) are retried with back-off;
    /// `random` in `0..<1` spreads the retries; `retryAfter`, the hub's `Retry-After`, is the least
    /// wait.
    public mutating func failed(_ code: SyncError.Code, random: Double, retryAfter: Duration? = nil) -> Action {
        guard code == .hubUnreachable else { return finish(.fail(code)) }
        switch retry.failed(random: random, retryAfter: retryAfter) {
        case .retry(let delay): return .wait(delay)
        case .giveUp: return finish(.fail(code))
        }
    }

    /// Whether the session ended.
    public var isDone: Bool { phase == .done }

    private mutating func remember(_ action: Action) -> Action {
        retryAction = action
        return action
    }

    private mutating func finish(_ action: Action) -> Action {
        phase = .done
        return action
    }
}
