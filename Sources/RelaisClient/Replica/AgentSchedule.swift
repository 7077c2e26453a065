/// When `relais agent` syncs next: a pure schedule, so its rules can be read (and tested) apart from
/// the loop that follows it.
public struct AgentSchedule: Sendable {
    public let interval: Duration
    public let debounce: Duration
    public let maxBackoff: Duration
    /// When the next periodic (or retry) sync is due.
    public private(set) var due: ContinuousClock.Instant = .now
    /// The last local edit not yet synced.
    public private(set) var lastEdit: ContinuousClock.Instant?
    /// The current wait after a failure (nil: the hub answered last time).
    public private(set) var backoff: Duration?

    /// Seconds between periodic syncs, of quiet after an edit, and at most between retries.
    public init(interval: Double, debounce: Double, maxBackoff: Double) {
        self.interval = .milliseconds(Int64(interval * 1000))
        self.debounce = .milliseconds(Int64(debounce * 1000))
        self.maxBackoff = .milliseconds(Int64(maxBackoff * 1000))
    }

    /// The first sync runs at once.
    public mutating func start(at now: ContinuousClock.Instant) { due = now }

    /// A local edit was seen.
    public mutating func edited(at now: ContinuousClock.Instant) { lastEdit = now }

    /// Due when the periodic time (or the retry time) came, or when an edit has been quiet for the
    /// debounce time and the hub is not being waited for.
    public func isDue(at now: ContinuousClock.Instant) -> Bool {
        if now >= due { return true }
        if let lastEdit, backoff == nil, now - lastEdit >= debounce { return true }
        return false
    }

    /// The sync succeeded: the next one is a full interval away (or sooner after an edit).
    public mutating func succeeded(at now: ContinuousClock.Instant) {
        backoff = nil
        lastEdit = nil
        due = now + interval
    }

    /// Another sync held the file: try again soon.
    public mutating func skipped(at now: ContinuousClock.Instant) {
        due = now + .seconds(5)
    }

    /// Returns the wait before the next try: 5 s, then twice as long each time, at most the
    /// maximum; never less than the hub's `Retry-After` when it sent one (a hub limiting this
    /// device is not asked again sooner). Edits made meanwhile wait for it too.
    public mutating func failed(at now: ContinuousClock.Instant, retryAfter: Duration? = nil) -> Duration {
        let next = backoff.map { min($0 * 2, maxBackoff) } ?? min(.seconds(5), maxBackoff)
        backoff = next
        let wait = max(next, retryAfter ?? .zero)
        due = now + wait
        return wait
    }
}
