import RelaisCore
import Testing

struct MergeRuleTests {
    typealias F = Fixture

    /// A sibling written by `replica` at `millis` (counter 1; authors named after the replica).
    func sibling(_ value: Value, replica: UInt32, millis: UInt64, logical: UInt16 = 0) -> Sibling {
        Sibling(value: value, dot: F.dot(replica, 1), hlc: F.hlc(millis, logical), author: F.author(of: replica))
    }

    /// Resolves the siblings in every order they could arrive in and checks that all agree.
    func resolve(
        _ rule: MergeRule, _ siblings: [Sibling], sourceLocation: SourceLocation = #_sourceLocation
    ) -> Value {
        let value = rule.resolve(siblings)
        for order in permutations(siblings) {
            #expect(rule.resolve(order) == value, "order \(order.map(\.dot))", sourceLocation: sourceLocation)
        }
        return value
    }

    func permutations<T>(_ items: [T]) -> [[T]] {
        guard items.count > 1 else { return [items] }
        var result: [[T]] = []
        for (i, item) in items.enumerated() {
            var rest = items
            rest.remove(at: i)
            for tail in permutations(rest) { result.append([item] + tail) }
        }
        return result
    }

    @Test(arguments: MergeRule.allCases)
    func oneSiblingIsItsOwnValue(rule: MergeRule) {
        let value: Value =
            switch rule {
            case .union: .set(["vip"])
            case .max, .min: .number(3)
            default: .text("only")
            }
        #expect(rule.resolve([sibling(value, replica: 1, millis: 10)]) == value)
        #expect(rule.resolve([]) == .null)
    }

    // MARK: lww and manual

    @Test(arguments: [MergeRule.lww, .manual])
    func laterHLCWins(rule: MergeRule) {
        let old = sibling(.text("01 23 45"), replica: 3, millis: 1_000)
        let new = sibling(.text("06 78 90"), replica: 1, millis: 2_000)
        #expect(resolve(rule, [old, new]) == .text("06 78 90"))
        let sameMillis = sibling(.text("07 00 00"), replica: 1, millis: 1_000, logical: 1)
        #expect(resolve(rule, [old, sameMillis]) == .text("07 00 00"))
    }

    @Test(arguments: [MergeRule.lww, .manual])
    func equalHLCIsBrokenByTheHigherReplica(rule: MergeRule) {
        let low = sibling(.text("from r2"), replica: 2, millis: 5_000)
        let high = sibling(.text("from r7"), replica: 7, millis: 5_000)
        let hub = sibling(.text("from hub"), replica: 0, millis: 5_000)
        #expect(resolve(rule, [low, high, hub]) == .text("from r7"))
        #expect(resolve(rule, [hub, low]) == .text("from r2"))
    }

    @Test func lwwMayChooseNull() {
        let set = sibling(.text("x@example.com"), replica: 1, millis: 1)
        let cleared = sibling(.null, replica: 2, millis: 2)
        #expect(resolve(.lww, [set, cleared]) == .null)
    }

    // MARK: union

    @Test func unionKeepsEveryItem() {
        let a = sibling(.set(["export", "vip"]), replica: 1, millis: 2)
        let b = sibling(.set(["vip", "wine"]), replica: 2, millis: 1)
        let c = sibling(.set([]), replica: 3, millis: 3)
        #expect(resolve(.union, [a, b, c]) == .set(["export", "vip", "wine"]))
    }

    @Test func unionReadsNullAsTheEmptySet() {
        let a = sibling(.set(["vip"]), replica: 1, millis: 1)
        let cleared = sibling(.null, replica: 2, millis: 2)
        #expect(resolve(.union, [a, cleared]) == .set(["vip"]))
        #expect(resolve(.union, [cleared, sibling(.set([]), replica: 3, millis: 3)]) == .set([]))
    }

    @Test(arguments: MergeRule.allCases)
    func onlyNullSidesResolveToNull(rule: MergeRule) {
        // The same as one null sibling: the value never depends on how many equal writes met.
        let nulls = [sibling(.null, replica: 1, millis: 1), sibling(.null, replica: 2, millis: 2)]
        #expect(resolve(rule, nulls) == .null)
        #expect(rule.resolve([nulls[0]]) == .null)
    }

    // MARK: append

    @Test func appendKeepsBothTextsInWriteOrderMarkedWithTheirAuthors() {
        let bob = sibling(.text("Wants a quote for 50 crates."), replica: 2, millis: 2_000)
        let alice = sibling(.text("Complained about late delivery."), replica: 1, millis: 1_000)
        #expect(
            resolve(.append, [bob, alice])
                == .text("[alice] Complained about late delivery.\n[bob] Wants a quote for 50 crates."))
    }

    @Test func appendOrdersEqualHLCByReplica() {
        let carol = sibling(.text("third"), replica: 3, millis: 1_000)
        let alice = sibling(.text("first"), replica: 1, millis: 1_000)
        let bob = sibling(.text("second"), replica: 2, millis: 1_000)
        #expect(resolve(.append, [carol, alice, bob]) == .text("[alice] first\n[bob] second\n[carol] third"))
    }

    @Test func appendKeepsEqualTextsOnce() {
        let alice = sibling(.text("Called back."), replica: 1, millis: 1_000)
        let bob = sibling(.text("Called back."), replica: 2, millis: 2_000)
        #expect(resolve(.append, [alice, bob]) == .text("Called back."))
        let carol = sibling(.text("Sent the brochure."), replica: 3, millis: 3_000)
        #expect(resolve(.append, [alice, bob, carol]) == .text("[alice] Called back.\n[carol] Sent the brochure."))
    }

    @Test func appendSkipsNullAndEmptyTexts() {
        let alice = sibling(.text("Visit went well."), replica: 1, millis: 1_000)
        let cleared = sibling(.null, replica: 2, millis: 2_000)
        let empty = sibling(.text(""), replica: 3, millis: 3_000)
        #expect(resolve(.append, [alice, cleared, empty]) == .text("Visit went well."))
        #expect(resolve(.append, [cleared, empty]) == .text(""))
        #expect(resolve(.append, [cleared, sibling(.null, replica: 4, millis: 1)]) == .null)
    }

    // MARK: max and min

    @Test func maxOfNumbers() {
        let values = [sibling(.number(1200), replica: 1, millis: 3), sibling(.number(9000.5), replica: 2, millis: 1)]
        #expect(resolve(.max, values) == .number(9000.5))
        #expect(resolve(.min, values) == .number(1200))
    }

    @Test func maxAndMinIgnoreNulls() {
        let siblings = [
            sibling(.number(4), replica: 1, millis: 1), sibling(.null, replica: 2, millis: 2),
            sibling(.number(2), replica: 3, millis: 3),
        ]
        #expect(resolve(.min, siblings) == .number(2))
        #expect(resolve(.max, siblings) == .number(4))
        let onlyNulls = [sibling(.null, replica: 1, millis: 1), sibling(.null, replica: 2, millis: 2)]
        #expect(resolve(.min, onlyNulls) == .null)
        #expect(resolve(.max, onlyNulls) == .null)
    }

    @Test func minOfDatesKeepsTheEarliestFollowUp() {
        let siblings = [
            sibling(.date("2026-03-15"), replica: 1, millis: 1), sibling(.date("2026-02-28"), replica: 2, millis: 2),
            sibling(.null, replica: 3, millis: 3), sibling(.date("2027-01-01"), replica: 4, millis: 0),
        ]
        #expect(resolve(.min, siblings) == .date("2026-02-28"))
        #expect(resolve(.max, siblings) == .date("2027-01-01"))
    }

    @Test func datesCompareChronologicallyAcrossForms() {
        // 09:00:00.5 is after 09:00:00, although "." sorts before "Z" as text.
        let whole = sibling(.date("2026-03-01T09:00:00Z"), replica: 1, millis: 1)
        let fraction = sibling(.date("2026-03-01T09:00:00.5Z"), replica: 2, millis: 2)
        #expect(resolve(.min, [whole, fraction]) == .date("2026-03-01T09:00:00Z"))
        #expect(resolve(.max, [whole, fraction]) == .date("2026-03-01T09:00:00.5Z"))

        // 01:00 at +02:00 is 23:00 the day before in UTC: earlier than 23:30Z.
        let offset = sibling(.date("2026-03-01T01:00:00+02:00"), replica: 1, millis: 1)
        let utc = sibling(.date("2026-02-28T23:30:00Z"), replica: 2, millis: 2)
        #expect(resolve(.min, [offset, utc]) == .date("2026-03-01T01:00:00+02:00"))
        #expect(resolve(.max, [offset, utc]) == .date("2026-02-28T23:30:00Z"))

        // A day is earlier than a time later that day, and later than a time the day before.
        let day = sibling(.date("2026-03-01"), replica: 3, millis: 3)
        let morning = sibling(.date("2026-03-01T08:00:00Z"), replica: 4, millis: 4)
        let eve = sibling(.date("2026-02-28T20:00:00Z"), replica: 5, millis: 5)
        #expect(resolve(.min, [day, morning, eve]) == .date("2026-02-28T20:00:00Z"))
        #expect(resolve(.max, [day, morning, eve]) == .date("2026-03-01T08:00:00Z"))
    }

    @Test func dateOrderIsTotalEvenForTheSameInstant() {
        // The same instant written two ways: the order still decides, whatever the arrival order.
        let utc = sibling(.date("2026-03-01T09:00:00Z"), replica: 1, millis: 2)
        let paris = sibling(.date("2026-03-01T10:00:00+01:00"), replica: 2, millis: 1)
        let chosenMin = resolve(.min, [utc, paris])
        let chosenMax = resolve(.max, [utc, paris])
        #expect(chosenMin != chosenMax)
        #expect(Value.order(.date("2026-03-01T09:00:00Z"), .date("2026-03-01T10:00:00+01:00")) != nil)
    }

    @Test func minOfBoolsIsFalseBeforeTrue() {
        let closed = sibling(.bool(true), replica: 1, millis: 2)
        let reopened = sibling(.bool(false), replica: 2, millis: 1)
        #expect(resolve(.min, [closed, reopened]) == .bool(false))
        #expect(resolve(.max, [closed, reopened]) == .bool(true))
        #expect(resolve(.min, [closed, sibling(.null, replica: 3, millis: 3)]) == .bool(true))
    }

    @Test func maxAndMinOfText() {
        let values = [sibling(.text("B"), replica: 1, millis: 1), sibling(.text("A"), replica: 2, millis: 2)]
        #expect(resolve(.min, values) == .text("A"))
        #expect(resolve(.max, values) == .text("B"))
    }

    @Test func valueOrder() {
        #expect(Value.order(.number(1), .number(2)) == true)
        #expect(Value.order(.number(2), .number(1)) == false)
        #expect(Value.order(.bool(false), .bool(true)) == true)
        #expect(Value.order(.bool(true), .bool(false)) == false)
        #expect(Value.order(.bool(true), .bool(true)) == false)
        #expect(Value.order(.date("2026-01-01"), .date("2026-01-02")) == true)
        #expect(Value.order(.number(1), .text("1")) == nil)
        #expect(Value.order(.set(["a"]), .set(["b"])) == nil)
    }

    @Test func fieldStateKeepsSiblingsInWriteOrder() {
        let a = sibling(.text("a"), replica: 3, millis: 1)
        let b = sibling(.text("b"), replica: 1, millis: 2)
        let c = sibling(.text("c"), replica: 2, millis: 2)
        let state = FieldState(siblings: [c, a, b], base: .text("base"))
        #expect(state.siblings == [a, b, c])
        #expect(state.latest == c)
        #expect(state.value(rule: .lww) == .text("c"))
        #expect(state.value(rule: .append) == .text("[carol] a\n[alice] b\n[bob] c"))
    }
}
