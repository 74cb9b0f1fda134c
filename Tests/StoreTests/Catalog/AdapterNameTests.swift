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

    @Test("length: 128 characters per part accepted, 129 refused, in either part")
    func lengthBound() throws {
        let part = String(repeating: "n", count: AdapterName.maxPartLength)
        #expect(try AdapterName(validating: part).rawValue.count == 128)
        let long = part + "n"
        #expect(throws: AdapterNameError.tooLong(long, length: 129)) { try AdapterName(validating: long) }
        let both = part + "/" + part
        #expect(try AdapterName(validating: both).rawValue.count == AdapterName.maxLength)
        #expect(throws: AdapterNameError.tooLong(long + "/a", length: 129)) { try AdapterName(validating: long + "/a") }
        #expect(throws: AdapterNameError.tooLong("a/" + long, length: 129)) { try AdapterName(validating: "a/" + long) }
    }

    @Test("namespaced names: one '/', each part under the name rules, the second part never a path keyword")
    func namespaced() throws {
        let name = try AdapterName(validating: "team-a/chat-v2")
        #expect(name.namespace == "team-a" && name.isIn(namespace: "team-a") && !name.isIn(namespace: "team"))
        #expect(try AdapterName(validating: "chat").namespace == nil)
        #expect(try AdapterName(validating: "files/chat").namespace == "files", "a keyword may be a namespace")
        for word in AdapterName.reservedLocalParts.sorted() {
            #expect(throws: AdapterNameError.reservedWord("team/\(word)", word: word)) { try AdapterName(validating: "team/\(word)") }
            #expect(try AdapterName(validating: word).rawValue == word, "a keyword is still a bare name")
            // Read back from a catalog written before the word was reserved: still a name.
            #expect(try AdapterName(stored: "team/\(word)").rawValue == "team/\(word)")
        }
        // Only the reserved-word rule is relaxed for stored names.
        #expect(throws: AdapterNameError.tooManyParts("a/b/delta.safetensors")) { try AdapterName(stored: "a/b/delta.safetensors") }
        #expect(throws: AdapterNameError.invalidFirstCharacter("-a/delta.safetensors")) { try AdapterName(stored: "-a/delta.safetensors") }
        let hex = String(repeating: "ab", count: 32)
        for (text, reason) in [("a/b/c", AdapterNameError.tooManyParts("a/b/c")), ("/a", .emptyPart("/a")), ("a/", .emptyPart("a/")),
                               ("/", .emptyPart("/")), ("a/.b", .invalidFirstCharacter("a/.b")), ("a/-b", .invalidFirstCharacter("a/-b")),
                               ("a/\(hex)", .looksLikeDigest("a/\(hex)")), ("\(hex)/a", .looksLikeDigest("\(hex)/a")),
                               ("a/b c", .invalidCharacter("a/b c", offset: 3))] {
            #expect(throws: reason) { try AdapterName(validating: text) }
        }
    }

    @Test("invalid names and the reason each is refused", arguments: [
        ("", AdapterNameError.empty),
        ("../etc/passwd", .tooManyParts("../etc/passwd")),
        ("../x", .invalidFirstCharacter("../x")),
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

    @Test("every byte outside [A-Za-z0-9._-] is refused in the middle of a name ('/' separates a namespace)")
    func allBytes() {
        for byte in UInt8(1)...UInt8(127) {
            let text = "a" + String(UnicodeScalar(byte)) + "b"
            let allowed = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "/")
            #expect(((try? AdapterName(validating: text)) != nil) == allowed, "byte \(byte)")
        }
    }

    @Test("a reference is a digest when it is 64 lowercase hex, a validated name otherwise")
    func references() throws {
        let digest = try SHA256.hash(Data("x".utf8))
        #expect(try AdapterReference(parsing: digest.hex) == .digest(digest))
        #expect(try AdapterReference(parsing: "my-adapter") == .name(AdapterName(validating: "my-adapter")))
        #expect(try AdapterReference(parsing: digest.hex.uppercased()) == .name(AdapterName(validating: digest.hex.uppercased())))
        #expect(throws: CatalogError.invalidReference("../x", .invalidFirstCharacter("../x"))) {
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
