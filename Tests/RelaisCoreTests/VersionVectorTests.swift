import Foundation
import RelaisCore
import Testing

struct VersionVectorTests {
    typealias F = Fixture

    @Test func zeroEntriesAreNeverStored() {
        let built = F.vv([1: 3, 2: 0, 5: 0])
        #expect(built.entries == [F.r(1): 3])
        #expect(built == F.vv([1: 3]))
        #expect(built.hashValue == F.vv([1: 3]).hashValue)

        var vector = F.vv([1: 3, 2: 4])
        vector[F.r(2)] = 0
        #expect(vector.entries == [F.r(1): 3])
        #expect(vector == F.vv([1: 3]))
        vector[F.r(1)] = 0
        #expect(vector.isEmpty)
        #expect(vector == .empty)
        #expect(vector[F.r(9)] == 0)
    }

    @Test func coversADotUpToItsCounter() {
        let vector = F.vv([2: 5])
        #expect(vector.covers(F.dot(2, 1)))
        #expect(vector.covers(F.dot(2, 5)))
        #expect(!vector.covers(F.dot(2, 6)))
        #expect(!vector.covers(F.dot(3, 1)))
        #expect(!VersionVector.empty.covers(F.dot(0, 1)))
    }

    @Test func addRaisesAnEntryButNeverLowersIt() {
        var vector = F.vv([1: 4])
        vector.add(F.dot(1, 2))
        #expect(vector == F.vv([1: 4]))
        vector.add(F.dot(1, 7))
        vector.add(F.dot(3, 1))
        #expect(vector == F.vv([1: 7, 3: 1]))
    }

    @Test func joinIsTheEntryWiseMaximum() {
        let a = F.vv([1: 3, 2: 1])
        let b = F.vv([2: 4, 3: 2])
        #expect(a.joined(b) == F.vv([1: 3, 2: 4, 3: 2]))
        #expect(b.joined(a) == a.joined(b))
        #expect(a.joined(a) == a)
        #expect(a.joined(.empty) == a)

        var c = a
        c.join(b)
        #expect(c == F.vv([1: 3, 2: 4, 3: 2]))
    }

    @Test func dominatesMeansEveryEntryIsAtLeastAsHigh() {
        #expect(F.vv([1: 3, 2: 2]).dominates(F.vv([1: 3])))
        #expect(F.vv([1: 3]).dominates(F.vv([1: 3])))
        #expect(F.vv([1: 3]).dominates(.empty))
        #expect(VersionVector.empty.dominates(.empty))
        #expect(!F.vv([1: 3]).dominates(F.vv([1: 4])))
        #expect(!F.vv([1: 3]).dominates(F.vv([1: 1, 2: 1])))
    }

    @Test func compareTellsEqualBeforeAfterAndConcurrent() {
        #expect(F.vv([1: 2, 2: 1]).compare(F.vv([2: 1, 1: 2])) == .equal)
        #expect(VersionVector.empty.compare(.empty) == .equal)
        #expect(F.vv([1: 2]).compare(F.vv([1: 3])) == .before)
        #expect(VersionVector.empty.compare(F.vv([4: 1])) == .before)
        #expect(F.vv([1: 3, 2: 1]).compare(F.vv([1: 3])) == .after)
        #expect(F.vv([1: 3]).compare(F.vv([2: 1])) == .concurrent)
        #expect(F.vv([1: 3, 2: 1]).compare(F.vv([1: 2, 2: 2])) == .concurrent)
    }

    @Test func retireRemovesAReplicaEntry() {
        var vector = F.vv([1: 3, 7: 12])
        vector.retire(F.r(7))
        #expect(vector == F.vv([1: 3]))
        #expect(!vector.covers(F.dot(7, 1)))
        vector.retire(F.r(42))
        #expect(vector == F.vv([1: 3]))
    }

    @Test func sortedEntriesAndDescriptionAreInReplicaOrder() {
        let vector = F.vv([9: 1, 2: 5, 4: 3])
        #expect(vector.sortedEntries.map(\.replica) == [F.r(2), F.r(4), F.r(9)])
        #expect(vector.sortedEntries.map(\.counter) == [5, 3, 1])
        #expect(vector.description == "[2:5,4:3,9:1]")
    }

    @Test func codesAsAFlatSortedArrayAndRoundTrips() throws {
        let vector = F.vv([9: 1, 2: 5, 4: 3])
        let data = try JSONEncoder().encode(vector)
        #expect(String(decoding: data, as: UTF8.self) == "[2,5,4,3,9,1]")
        #expect(try JSONDecoder().decode(VersionVector.self, from: data) == vector)

        let empty = try JSONEncoder().encode(VersionVector.empty)
        #expect(String(decoding: empty, as: UTF8.self) == "[]")
        #expect(try JSONDecoder().decode(VersionVector.self, from: empty) == .empty)
    }

    @Test func decodingDropsZeroCountersAndRefusesAnOddArray() throws {
        let decoded = try JSONDecoder().decode(VersionVector.self, from: Data("[3,0,1,2]".utf8))
        #expect(decoded == F.vv([1: 2]))
        #expect(decoded.entries[F.r(3)] == nil)

        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(VersionVector.self, from: Data("[1,2,3]".utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(VersionVector.self, from: Data("{\"1\":2}".utf8))
        }
    }
}
