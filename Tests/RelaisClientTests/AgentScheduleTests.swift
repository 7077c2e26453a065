import RelaisClient
import Testing

/// When `relais agent` syncs (Deploy/laptop/): periodically, soon after an edit, backing off while the
/// hub is unreachable, and never sooner than a limiting hub asked.
struct AgentScheduleTests {
    let start = ContinuousClock.now

    func schedule() -> AgentSchedule {
        var schedule = AgentSchedule(interval: 300, debounce: 2, maxBackoff: 600)
        schedule.start(at: start)
        return schedule
    }

    @Test func anEditIsSyncedOnceQuietAndOtherwiseEveryInterval() {
        var schedule = schedule()
        #expect(schedule.isDue(at: start))
        schedule.succeeded(at: start)
        #expect(!schedule.isDue(at: start + .seconds(299)))
        #expect(schedule.isDue(at: start + .seconds(300)))
        schedule.edited(at: start + .seconds(10))
        #expect(!schedule.isDue(at: start + .seconds(11)))
        #expect(schedule.isDue(at: start + .seconds(12)))
    }

    @Test func failuresBackOffDoublingUpToTheMaximum() {
        var schedule = schedule()
        var waits: [Duration] = []
        for n in 0..<10 { waits.append(schedule.failed(at: start + .seconds(n))) }
        #expect(waits.prefix(4) == [.seconds(5), .seconds(10), .seconds(20), .seconds(40)])
        #expect(waits.last == .seconds(600))
        // While backing off, an edit does not make the agent ask again early.
        schedule.edited(at: start + .seconds(20))
        #expect(!schedule.isDue(at: start + .seconds(30)))
    }

    @Test func aLimitingHubIsNotAskedAgainBeforeItsRetryAfter() {
        var schedule = schedule()
        let wait = schedule.failed(at: start, retryAfter: .seconds(90))
        #expect(wait == .seconds(90))
        #expect(!schedule.isDue(at: start + .seconds(89)))
        #expect(schedule.isDue(at: start + .seconds(90)))
        // A Retry-After shorter than the back-off does not shorten it.
        _ = schedule.failed(at: start)
        #expect(schedule.failed(at: start, retryAfter: .seconds(1)) == .seconds(20))
    }
}
