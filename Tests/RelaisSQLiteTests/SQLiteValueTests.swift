import RelaisSQLite
import Testing

struct SQLiteValueTests {
    @Test func literalsBuildTheMatchingCase() {
        let values: [SQLiteValue] = [nil, 42, 1.5, "text", true, false, .blob([1, 2])]
        #expect(values == [.null, .integer(42), .real(1.5), .text("text"), .integer(1), .integer(0), .blob([1, 2])])
    }

    @Test func accessorsDoNotConvert() {
        let integer: SQLiteValue = 7
        #expect(integer.int64Value == 7)
        #expect(integer.doubleValue == nil)
        #expect(integer.textValue == nil)
        #expect(integer.blobValue == nil)
        #expect(!integer.isNull)
        #expect(SQLiteValue.null.isNull)
        #expect(SQLiteValue.real(2.5).doubleValue == 2.5)
        #expect(SQLiteValue.text("a").textValue == "a")
        #expect(SQLiteValue.blob([]).blobValue == [])
    }

    @Test func hashableDistinguishesStorageClasses() {
        let set: Set<SQLiteValue> = [1, 1.0, "1", .blob([0x31]), nil, 1]
        #expect(set.count == 5)
    }

    @Test func descriptionLooksLikeSQL() {
        #expect(SQLiteValue.null.description == "NULL")
        #expect(SQLiteValue.integer(-3).description == "-3")
        #expect(SQLiteValue.text("it's").description == "'it''s'")
        #expect(SQLiteValue.blob([0xCA, 0xFE, 0x01]).description == "X'CAFE01'")
    }
}
