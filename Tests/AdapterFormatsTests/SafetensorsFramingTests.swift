import Testing
@testable import AdapterFormats

/// The length prefix, the header bytes' encoding, and the JSON syntax around the schema.
@Suite("Safetensors framing")
struct SafetensorsFramingTests {
    typealias F = SafetensorsFixture

    @Test func acceptsTheBaseFixture() throws {
        let header = try SafetensorsHeader.parse(F.valid)
        #expect(header.tensors.map(\.name) == ["a"])
        #expect(header.metadata == nil)
        #expect(header.dataOffset == 8 + F.validHeader.utf8.count)
        #expect(header.entry(named: "a")?.byteRange == 0..<16)
        #expect(header.entry(named: "b") == nil)
    }

    @Test func parsesTheSameFromArrayAndBuffer() throws {
        let file = F.valid
        let fromArray = try SafetensorsHeader.parse(file)
        let fromBuffer = try file.withUnsafeBytes { raw in try SafetensorsHeader.parse(raw) }
        #expect(fromArray == fromBuffer)
    }

    // Reference read_metadata: buffer shorter than 8 bytes → HeaderTooSmall.
    @Test(arguments: 0...7)
    func rejectsFileShorterThanTheLengthPrefix(count: Int) {
        #expect(throws: SafetensorsError.fileTooShort(byteCount: count)) {
            try SafetensorsHeader.parse([UInt8](repeating: 0x20, count: count))
        }
    }

    // N > MAX_HEADER_SIZE → HeaderTooLarge; checked before N is used as a size.
    @Test(arguments: [UInt64(100_000_001), UInt64(Int.max) + 1, .max])
    func rejectsHeaderLengthOverTheLimit(length: UInt64) {
        #expect(throws: SafetensorsError.headerTooLarge(length: length, limit: 100_000_000)) {
            try SafetensorsHeader.parse(F.image("{}", declaredLength: length))
        }
    }

    // 8 + N past the end of the buffer → InvalidHeaderLength.
    @Test func rejectsHeaderRunningPastTheEndOfFile() {
        let file = F.image("{}", declaredLength: 3)
        #expect(throws: SafetensorsError.headerPastEndOfFile(length: 3, fileLength: 10)) {
            try SafetensorsHeader.parse(file)
        }
    }

    // Header bytes not UTF-8 → InvalidHeader. The bad bytes sit in a key starting at header
    // offset 2; `offset` is the first byte that cannot continue a valid sequence.
    static let invalidUTF8: [(bytes: [UInt8], offset: Int)] = [
        ([0xFF], 2),                     // never a UTF-8 byte
        ([0x80], 2),                     // continuation without a lead
        ([0xC0, 0x80], 2),               // overlong NUL: C0 never leads
        ([0xE0, 0x80, 0x80], 3),         // overlong 3-byte form
        ([0xED, 0xA0, 0x80], 3),         // UTF-16 surrogate U+D800
        ([0xF4, 0x90, 0x80, 0x80], 3),   // past U+10FFFF
        ([0xF0, 0x9F, 0x98, 0x28], 5),   // bad last continuation
        ([0xE2, 0x28, 0xA1], 3),         // bad first continuation
    ]

    @Test(arguments: invalidUTF8)
    func rejectsHeaderThatIsNotUTF8(bytes: [UInt8], offset: Int) {
        let headerBytes = Array("{\"".utf8) + bytes + Array("\":{}}".utf8)
        #expect(throws: SafetensorsError.headerNotUTF8(offset: offset)) {
            try SafetensorsHeader.parse(F.image(headerBytes: headerBytes))
        }
    }

    @Test func reportsATruncatedSequenceAtItsLeadByte() {
        // `{` then the first two bytes of a three-byte sequence, at the very end of the header.
        #expect(throws: SafetensorsError.headerNotUTF8(offset: 1)) {
            try SafetensorsHeader.parse(F.image(headerBytes: [UInt8(ascii: "{"), 0xE2, 0x82]))
        }
    }

    @Test(arguments: ["é", "日本語", "😀", "a\u{10FFFF}"])
    func acceptsMultibyteNames(name: String) throws {
        let file = F.image(F.header(F.entry(name, "F32", [1], 0, 4)), data: [0, 0, 0, 0])
        #expect(try SafetensorsHeader.parse(file).tensors.first?.name == name)
    }

    // First byte not '{' → InvalidHeaderStart (so leading whitespace is not allowed either).
    @Test(arguments: ["", " {}", "\n{}", "[]", "\"x\"", "1", "null"])
    func rejectsHeaderNotStartingWithABrace(header: String) {
        #expect(throws: SafetensorsError.headerNotObject) {
            try SafetensorsHeader.parse(F.image(header))
        }
    }

    // serde_json errors → InvalidHeaderDeserialization. Each header fails JSON syntax before
    // any schema rule could apply; `offset` is where the reader stopped.
    static let syntaxErrors: [(header: String, offset: Int)] = [
        ("{", 1),                                             // unterminated object
        ("{\"a\"}", 4),                                       // key without ':'
        ("{\"a\":", 5),                                       // value missing at the end
        ("{,}", 1),                                           // comma before any member
        ("{'a':{}}", 1),                                      // single quotes
        ("{\"a\":{\"dtype\":\"F32\" \"shape\":[1]}}", 20),    // missing ',' between members
        ("{\"a\":{\"dtype\":\"F32\",}}", 20),                 // trailing ',' in an object
        ("{\"a\":{\"shape\":[1,]}}", 17),                     // trailing ',' in an array
        ("{\"a\":{\"shape\":[1 2]}}", 17),                    // missing ',' in an array
        ("{\"a\":{\"shape\":[01]}}", 16),                     // leading zero
        ("{\"a\":{\"shape\":[1.]}}", 17),                     // fraction without digits
        ("{\"a\":{\"shape\":[1e]}}", 17),                     // exponent without digits
        ("{\"a\":{\"shape\":[1e+]}}", 18),                    // signed exponent without digits
        ("{\"a\":{\"shape\":[-]}}", 16),                      // sign alone
        ("{\"a\":{\"shape\":[- 1]}}", 16),                    // space after the sign
        ("{\"a\":{\"dtype\":\"F32", 18),                      // unterminated string
        ("{\"a\u{01}\":{}}", 3),                              // raw control character in a string
        ("{\"a\tb\":{}}", 3),                                 // raw tab in a string
        ("{\"a\\x\":{}}", 4),                                 // unknown escape
        ("{\"\\u12G4\":{}}", 6),                              // bad hex digit
        ("{\"\\u12", 6),                                      // unterminated \u escape
        ("{\"\\uD800\":{}}", 8),                              // lone high surrogate
        ("{\"\\uD800\\u0041\":{}}", 14),                      // high surrogate then a non-surrogate
        ("{\"\\uDC00\":{}}", 8),                              // lone low surrogate
    ]

    @Test(arguments: syntaxErrors)
    func rejectsInvalidJSON(header: String, offset: Int) {
        let error = F.parseError(F.image(header))
        guard case .headerNotJSON(let at, let reason)? = error else {
            Issue.record("expected headerNotJSON, got \(String(describing: error))")
            return
        }
        #expect(at == offset, "\(reason)")
    }

    @Test func acceptsEscapesAndSurrogatePairsInNames() throws {
        // "\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00" decodes to these nine scalars.
        let header = #"{"q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#
        let parsed = try SafetensorsHeader.parse(F.image(header, data: [0, 0, 0, 0]))
        #expect(parsed.tensors.first?.name == "q\"\\/\u{08}\u{0C}\n\r\té😀")
    }

    @Test func acceptsWhitespaceBetweenTokens() throws {
        let header = "{ \"a\" :\n{\t\"dtype\" : \"F32\" ,\r\n \"shape\" : [ 2 , 2 ] , \"data_offsets\" : [ 0 , 16 ] } }"
        let parsed = try SafetensorsHeader.parse(F.image(header, data: F.validData))
        #expect(parsed.tensors.first?.shape == [2, 2])
    }

    // The format pads the header with spaces (0x20) to its declared length; nothing else may follow.
    @Test(arguments: ["{}", "{} ", "{}       "])
    func acceptsSpacePadding(header: String) throws {
        #expect(try SafetensorsHeader.parse(F.image(header)).tensors.isEmpty)
    }

    @Test(arguments: [("{}\n", 2), ("{} \t", 3), ("{}x", 2), ("{}{}", 2), ("{}}", 2), ("{}  \u{0}", 4)])
    func rejectsTrailingBytesAfterTheObject(header: String, offset: Int) {
        #expect(throws: SafetensorsError.headerTrailingBytes(offset: offset)) {
            try SafetensorsHeader.parse(F.image(header))
        }
    }
}
