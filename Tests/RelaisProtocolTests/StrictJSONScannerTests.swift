import RelaisProtocol
import Testing

/// The strict JSON pre-check: RFC 8259 only, no duplicate keys, bounded depth.
struct StrictJSONScannerTests {
    func check(_ text: String, maxDepth: Int = 32) throws(ProtocolError) {
        try StrictJSONScanner.validate(Array(text.utf8), maxDepth: maxDepth)
    }

    @Test(arguments: [
        "{}", "[]", "0", "-0.5e+10", "\"x\"", "true", "false", "null", " { \"a\" : [ 1 , 2 , {} ] } ",
        #"{"a":{"b":{"c":[]}},"b":1}"#, #"{"s":"\u00e9\ud83d\ude00\n\"\\\/"}"#, "{\"é\":\"😀\"}",
        #"[{"a":1},{"a":2}]"#,  // the same key in sibling objects is fine
        #"{"a":{"a":{"a":1}}}"#,  // and in nested ones
    ])
    func acceptsWellFormedJSON(_ text: String) throws {
        try check(text)
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "'a'", "01", "1.", ".5", "-", "1e", "+1",
        "tru", "nul", "NaN", "Infinity", "[1 2]", "{\"a\":1}{}", "{} x", "\"\\x\"", "\"\\u12\"", "\"\u{01}\"",
        "\"abc", #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, "/* c */ {}", "\u{FEFF}{}",
    ])
    func refusesMalformedJSON(_ text: String) {
        #expect(throws: ProtocolError.malformedBody) { try check(text) }
    }

    @Test func refusesInvalidUTF8() {
        for bytes: [UInt8] in [
            [0x22, 0xFF, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22],
        ] {
            #expect(throws: ProtocolError.malformedBody) { try StrictJSONScanner.validate(bytes, maxDepth: 8) }
        }
    }

    @Test(arguments: [
        #"{"a":1,"a":2}"#,  // top level
        #"{"writes":[{"dot":{"replica":1,"replica":2}}]}"#,  // nested
        #"{"a":1,"\u0061":2}"#,  // the same key, once escaped
        #"{"é":1,"\u00e9":2}"#,
        #"{"😀":1,"\ud83d\ude00":2}"#,
        #"{"a":1,"b":{},"c":[],"a":null}"#,
        #"{"recordId":"x","record_id":"y"}"#,  // one protobuf field, two spellings
        #"{"schema_version":1,"schemaVersion":2}"#,
    ])
    func refusesDuplicateKeys(_ text: String) {
        #expect(throws: ProtocolError.duplicateJSONKey) { try check(text) }
        #expect(ProtocolError.duplicateJSONKey.httpStatus == 400)
    }

    @Test func boundsTheNestingDepth() throws {
        let at32 = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        try check(at32)
        let at33 = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(throws: ProtocolError.jsonTooDeep) { try check(at33) }
        let objects = String(repeating: "{\"a\":", count: 33) + "1" + String(repeating: "}", count: 33)
        #expect(throws: ProtocolError.jsonTooDeep) { try check(objects) }
        // A hostile depth is refused without recursion (no stack overflow), even unclosed.
        #expect(throws: ProtocolError.jsonTooDeep) { try check(String(repeating: "[", count: 1_000_000)) }
    }
}
