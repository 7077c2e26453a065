public import RelaisHub
import Synchronization

/// The tests' one wall clock: a time in milliseconds since 1970 that a test sets, advances and turns
/// back by hand.
///
/// The same clock serves both sides: a hub takes it as its ``HubClock``, a replica through
/// `Replica.Configuration.testing(clock:)`, and the fault simulation skews each laptop's own.
///
/// ```swift
/// let clock = TestClock()
/// try await HubFixture.with(clock: clock) { hub in
///     clock.advance(byMillis: 60_000)
/// }
/// ```
public final class TestClock: HubClock {
    /// 2026-11-28T09:00:00Z, where every test clock starts unless told otherwise.
    public static let defaultStart: UInt64 = 1_795_856_400_000

    private let millis: Mutex<UInt64>

    /// A clock at `millis` since 1970 (default: ``defaultStart``).
    public init(millis: UInt64 = TestClock.defaultStart) {
        self.millis = Mutex(millis)
    }

    /// The current time in milliseconds since 1970.
    public func now() -> UInt64 { millis.withLock { $0 } }

    /// The current time (``HubClock``).
    public func millisecondsSince1970() -> UInt64 { now() }

    /// Moves the clock forward.
    public func advance(byMillis delta: UInt64) { millis.withLock { $0 += delta } }

    /// Moves the clock back, stopping at 1970 (a laptop whose clock was set back).
    public func turnBack(byMillis delta: UInt64) { millis.withLock { $0 = $0 > delta ? $0 - delta : 0 } }

    /// Sets the clock.
    public func set(millis value: UInt64) { millis.withLock { $0 = value } }
}
