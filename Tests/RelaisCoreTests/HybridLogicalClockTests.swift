import Foundation
import RelaisCore
import Testing

struct HybridLogicalClockTests {
    typealias F = Fixture

    @Test func packsMillisecondsAboveALogicalCounter() throws {
        let time = F.hlc(1_764_000_000_123, 7)
        #expect(time.physicalMillis == 1_764_000_000_123)
        #expect(time.logical == 7)
        #expect(time.rawValue == (1_764_000_000_123 << 16) | 7)
        #expect(time.description == "1764000000123.7")
        #expect(F.hlc(10, 9) < F.hlc(11, 0))
        #expect(F.hlc(10, 1) < F.hlc(10, 2))
        #expect(HLC.zero < F.hlc(0, 1))

        let data = try JSONEncoder().encode(time)
        #expect(String(decoding: data, as: UTF8.self) == String(time.rawValue))
        #expect(try JSONDecoder().decode(HLC.self, from: data) == time)
    }

    @Test func logicalOverflowCarriesIntoTheMillisecond() {
        #expect(F.hlc(5, .max).successor == F.hlc(6, 0))
        #expect(F.hlc(5, 3).successor == F.hlc(5, 4))

        var clock = HybridLogicalClock(last: F.hlc(100, .max))
        #expect(clock.now(physicalMillis: 100) == F.hlc(101, 0))
        #expect(clock.now(physicalMillis: 100) == F.hlc(101, 1))

        var receiving = HybridLogicalClock(last: F.hlc(100, 2))
        #expect(receiving.receive(F.hlc(100, .max), physicalMillis: 50) == F.hlc(101, 0))
    }

    @Test func nowFollowsThePhysicalClockWhenItIsAhead() {
        var clock = HybridLogicalClock()
        #expect(clock.now(physicalMillis: 1_000) == F.hlc(1_000))
        #expect(clock.now(physicalMillis: 2_000) == F.hlc(2_000))
        #expect(clock.last == F.hlc(2_000))
    }

    @Test func nowCountsWithinOneMillisecond() {
        var clock = HybridLogicalClock()
        #expect(clock.now(physicalMillis: 1_000) == F.hlc(1_000, 0))
        #expect(clock.now(physicalMillis: 1_000) == F.hlc(1_000, 1))
        #expect(clock.now(physicalMillis: 1_000) == F.hlc(1_000, 2))
    }

    @Test func nowIsMonotonicWhenThePhysicalClockGoesBackwards() {
        var clock = HybridLogicalClock()
        let first = clock.now(physicalMillis: 5_000)
        let second = clock.now(physicalMillis: 1_000)  // NTP stepped the clock back
        let third = clock.now(physicalMillis: 4_999)
        let fourth = clock.now(physicalMillis: 5_001)
        #expect(first < second)
        #expect(second == F.hlc(5_000, 1))
        #expect(third == F.hlc(5_000, 2))
        #expect(fourth == F.hlc(5_001, 0))
    }

    @Test func receiveMovesPastARemoteTimeAhead() {
        var clock = HybridLogicalClock(last: F.hlc(1_000, 3))
        let remote = F.hlc(9_000, 4)
        let time = clock.receive(remote, physicalMillis: 2_000)
        #expect(time == F.hlc(9_000, 5))
        #expect(time > remote)
        #expect(clock.last == time)
        // The next local event is still later, even with the physical clock behind.
        #expect(clock.now(physicalMillis: 2_001) == F.hlc(9_000, 6))
    }

    @Test func receiveMovesPastItsOwnLastTimeWhenTheRemoteIsBehind() {
        var clock = HybridLogicalClock(last: F.hlc(5_000, 2))
        #expect(clock.receive(F.hlc(1_000), physicalMillis: 3_000) == F.hlc(5_000, 3))
    }

    @Test func receiveUsesThePhysicalTimeWhenItIsAheadOfBoth() {
        var clock = HybridLogicalClock(last: F.hlc(1_000))
        #expect(clock.receive(F.hlc(2_000, 9), physicalMillis: 3_000) == F.hlc(3_000, 0))
    }

    @Test func clampClampsATimeMoreThanTheSkewAheadAndFlagsIt() {
        let now: UInt64 = 1_000_000
        let skew = HybridLogicalClock.defaultMaxSkewMillis
        #expect(skew == 300_000)

        let far = F.hlc(now + skew + 1, 7)
        let clamped = HybridLogicalClock.clamp(far, physicalMillis: now, maxSkewMillis: skew)
        #expect(clamped.clamped)
        #expect(clamped.hlc == F.hlc(now + skew, 7))
        #expect(clamped.hlc < far)

        let veryFar = F.hlc(now * 1_000, 2)
        let alsoClamped = HybridLogicalClock.clamp(veryFar, physicalMillis: now, maxSkewMillis: skew)
        #expect(alsoClamped.clamped)
        #expect(alsoClamped.hlc == F.hlc(now + skew, 2))
    }

    @Test(arguments: [0, 1, 299_999, 300_000] as [UInt64])
    func clampLeavesATimeWithinTheSkewAlone(ahead: UInt64) {
        let now: UInt64 = 1_000_000
        let remote = F.hlc(now + ahead, 42)
        let check = HybridLogicalClock.clamp(remote, physicalMillis: now, maxSkewMillis: 300_000)
        #expect(!check.clamped)
        #expect(check.hlc == remote)
    }

    @Test func clampLeavesATimeInThePastAlone() {
        let remote = F.hlc(10, 1)
        let check = HybridLogicalClock.clamp(remote, physicalMillis: 1_000_000, maxSkewMillis: 300_000)
        #expect(!check.clamped)
        #expect(check.hlc == remote)
    }

    @Test func writeOrderIsHLCFirstThenReplica() {
        let early = WriteOrder(hlc: F.hlc(1_000), replica: F.r(9))
        let late = WriteOrder(hlc: F.hlc(1_000, 1), replica: F.r(1))
        let tieLow = WriteOrder(hlc: F.hlc(2_000), replica: F.r(2))
        let tieHigh = WriteOrder(hlc: F.hlc(2_000), replica: F.r(3))
        #expect(early < late)
        #expect(late < tieLow)
        #expect(tieLow < tieHigh)
        #expect(!(tieHigh < tieLow))
        #expect(tieLow == WriteOrder(hlc: F.hlc(2_000), replica: F.r(2)))
    }

    @Test func writeOrderIsATotalOrder() {
        var orders: [WriteOrder] = []
        for millis: UInt64 in [1, 2] {
            for logical: UInt16 in [0, 1] {
                for replica: UInt32 in [0, 1, 2] {
                    orders.append(WriteOrder(hlc: F.hlc(millis, logical), replica: F.r(replica)))
                }
            }
        }
        for a in orders {
            for b in orders {
                let relations = [a < b, a == b, b < a].filter { $0 }
                #expect(relations.count == 1, "\(a) vs \(b): exactly one of <, ==, > holds")
                for c in orders where a < b && b < c {
                    #expect(a < c)
                }
            }
        }
        #expect(orders.sorted() == orders)
    }
}
