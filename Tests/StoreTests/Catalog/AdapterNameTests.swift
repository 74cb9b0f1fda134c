import Foundation
import Testing
import Store

@Suite("AdapterName and AdapterReference validation")
struct AdapterNameTests {
    @Test("valid names", arguments: [
        "a", "my-adapter", "A.b_c-1", "0day", "v1.2.3", "_private", String(repeating: "x", count: 128),
        String(repeating: "A", count: 64),  // uppercase hex is not a digest spelling
        String(repeating: "a", count: 63), String(repeating: "a", count: 65),
    ])
    func valid(text: String) throws {
        #expect(try AdapterName(validating: text).rawValue == text)
    }

    @Test("length: 128 characters accepted, 129 refused")
    func lengthBound() throws {
        #expect(try AdapterName(validating: String(repeating: "n", count: AdapterName.maxLength)).rawValue.count == 128)
        let long = String(repeating: "n", count: AdapterName.maxLength + 1)
        #expect(throws: AdapterNameError.tooLong(long, length: 129)) { try AdapterName(validating: long) }
    }

    @Test("invalid names and the reason each is refused", arguments: [
        ("", AdapterNameError.empty),
        ("a/b", .invalidCharacter("a/b", offset: 1)),
        ("../etc/passwd", .invalidCharacter("../etc/passwd", offset: 2)),
        ("..", .invalidFirstCharacter("..")),
        (".", .invalidFirstCharacter(".")),
        (".hidden", .invalidFirstCharacter(".hidden")),
        ("-rf", .invalidFirstCharacter("-rf")),
        ("a\u{0}b", .invalidCharacter("a\u{0}b", offset: 1)),
        ("a b", .invalidCharacter("a b", offset: 1)),
        ("a\\b", .invalidCharacter("a\\b", offset: 1)),
        ("name\n", .invalidCharacter("name\n", offset: 4)),
        ("café", .invalidCharacter("café", offset: 3)),
        ("a%2Fb", .invalidCharacter("a%2Fb", offset: 1)),
        ("a:b", .invalidCharacter("a:b", offset: 1)),
        (String(repeating: "0", count: 64), .looksLikeDigest(String(repeating: "0", count: 64))),
    ])
    func invalid(text: String, reason: AdapterNameError) {
        #expect(throws: reason) { try AdapterName(validating: text) }
    }

    @Test("every byte outside [A-Za-z0-9._-] is refused in the middle of a name")
    func allBytes() {
        for byte in UInt8(1)...UInt8(127) {
            let text = "a" + String(UnicodeScalar(byte)) + "b"
            let allowed = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            #expect(((try? AdapterName(validating: text)) != nil) == allowed, "byte \(byte)")
        }
    }

    @Test("a reference is a digest when it is 64 lowercase hex, a validated name otherwise")
    func references() throws {
        let digest = try SHA256.hash(Data("x".utf8))
        #expect(try AdapterReference(parsing: digest.hex) == .digest(digest))
        #expect(try AdapterReference(parsing: "my-adapter") == .name(AdapterName(validating: "my-adapter")))
        #expect(try AdapterReference(parsing: digest.hex.uppercased()) == .name(AdapterName(validating: digest.hex.uppercased())))
        #expect(throws: CatalogError.invalidReference("../x", .invalidCharacter("../x", offset: 2))) {
            try AdapterReference(parsing: "../x")
        }
    }

    @Test("Codable validates on decode")
    func codable() throws {
        let names = try JSONDecoder().decode([AdapterName].self, from: Data("[\"ok\"]".utf8))
        #expect(names.map(\.rawValue) == ["ok"])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([AdapterName].self, from: Data("[\"..\"]".utf8)) }
    }
}
