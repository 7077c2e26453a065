/// Retry with exponential back-off and jitter, as a value: the caller reports each failure and is told
/// whether to wait and try again or to give up. No clock, no sleep, no randomness of its own (the
/// caller passes a random number in `0..<1`), so it is tested without I/O.
///
/// ```swift
/// var retry = RetryStateMachine()
/// while true {
///     do { return try await send() } catch let error as SyncError where error.isTransient {
///         switch retry.failed(random: .random(in: 0..<1)) {
///         case .retry(let delay): try await Task.sleep(for: delay)
///         case .giveUp: throw error
///         }
///     }
/// }
/// ```
public struct RetryStateMachine: Sendable, Hashable {
    /// How retries are spaced.
    public struct Configuration: Sendable, Hashable {
        /// Attempts in all, the first included.
        public var maxAttempts: Int
        /// The delay before the first retry.
        public var baseDelay: Duration
        /// The longest delay between two attempts.
        public var maxDelay: Duration
        /// The fraction of each delay that is random (0: none, 1: "full jitter").
        public var jitter: Double
        /// The longest `Retry-After` (429, 503) waited for; a hub asking for more is not retried now:
        /// the failure stands and tells when to try again.
        public var maxRetryAfter: Duration

        /// Five attempts, 0.5 s doubling to at most 8 s, half of each delay random; a `Retry-After` of
        /// up to 60 s is waited for.
        public init(
            maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(8),
            jitter: Double = 0.5, maxRetryAfter: Duration = .seconds(60)
        ) {
            self.maxAttempts = maxAttempts
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
            self.jitter = jitter
            self.maxRetryAfter = maxRetryAfter
        }
    }

    /// What to do after a failure.
    public enum Action: Sendable, Hashable {
        /// Wait this long, then try again.
        case retry(after: Duration)
        /// Stop: the failure stands.
        case giveUp
    }

    /// The configuration.
    public let configuration: Configuration
    /// Failures since the last success.
    public private(set) var failures = 0

    /// A fresh machine.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Reports a transient failure. `random` is a number in `0..<1` that spreads the retries of many
    /// devices apart after the hub comes back. `retryAfter` is the hub's `Retry-After`, when it sent
    /// one: the retry waits at least that long, and a wait over
    /// ``Configuration-swift.struct/maxRetryAfter`` gives up.
    public mutating func failed(random: Double, retryAfter: Duration? = nil) -> Action {
        failures += 1
        guard failures < configuration.maxAttempts else { return .giveUp }
        if let retryAfter {
            guard retryAfter <= configuration.maxRetryAfter else { return .giveUp }
            return .retry(after: max(retryAfter, backOff(random: random)))
        }
        return .retry(after: backOff(random: random))
    }

    /// The back-off after ``failures`` failures.
    private func backOff(random: Double) -> Duration {
        let exponent = min(failures - 1, 30)
        let base = configuration.baseDelay * (1 << exponent)
        let capped = min(base, configuration.maxDelay)
        let jitter = max(0, min(1, configuration.jitter))
        let random = max(0, min(random, 1))
        return capped * (1 - jitter) + capped * (jitter * random)
    }

    /// Reports a success: the next failure starts the back-off over.
    public mutating func succeeded() {
        failures = 0
    }
}
