import Foundation
import Testing
import Store

@Suite("SHA256Digest validation (the path-traversal guard)")
struct SHA256DigestTests {
    static let valid = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    @Test("64 lowercase hex characters are accepted")
    func accepts() throws {
        let digest = try SHA256Digest(validating: Self.valid)
        #expect(digest.hex == Self.valid)
        #expect(digest.description == Self.valid)
        #expect(SHA256Digest(Self.valid) == digest)
        #expect(try SHA256Digest(validating: String(repeating: "0", count: 64)).hex.count == 64)
    }

    @Test("length: 63 and 65 are refused")
    func length() {
        #expect(throws: SHA256DigestError.wrongLength(String(Self.valid.dropLast()), count: 63)) {
            try SHA256Digest(validating: String(Self.valid.dropLast()))
        }
        #expect(throws: SHA256DigestError.wrongLength(Self.valid + "0", count: 65)) {
            try SHA256Digest(validating: Self.valid + "0")
        }
        #expect(throws: SHA256DigestError.wrongLength("", count: 0)) { try SHA256Digest(validating: "") }
    }

    /// Each bad string keeps 64 characters so the character check, not the length, must refuse it.
    @Test("anything but 0-9a-f is refused", arguments: [
        ("uppercase", String(repeating: "A", count: 64), 0),
        ("g", String(repeating: "a", count: 63) + "g", 63),
        ("slash", "../" + String(repeating: "a", count: 61), 0),
        ("inner slash", String(repeating: "a", count: 31) + "/" + String(repeating: "a", count: 32), 31),
        ("NUL", String(repeating: "a", count: 63) + "\u{0}", 63),
        ("space", " " + String(repeating: "a", count: 63), 0),
        ("newline", String(repeating: "a", count: 63) + "\n", 63),
    ])
    func characters(label: String, text: String, offset: Int) {
        #expect(throws: SHA256DigestError.invalidCharacter(text, offset: offset), "\(label)") {
            try SHA256Digest(validating: text)
        }
        #expect(SHA256Digest(text) == nil)
    }

    /// Fullwidth 'Ａ' passes `Character.isHexDigit`; the byte check must still refuse it (and it
    /// changes the byte length, so it is refused whatever its position).
    @Test("Unicode look-alikes are refused")
    func unicode() {
        let fullwidth = String(repeating: "\u{FF21}", count: 64)
        #expect(fullwidth.count == 64)
        #expect(SHA256Digest(fullwidth) == nil)
        let arabicDigit = String(repeating: "a", count: 63) + "\u{0663}"
        #expect(SHA256Digest(arabicDigit) == nil)
    }

    @Test("Codable validates on decode")
    func codable() throws {
        let digest = try SHA256Digest(validating: Self.valid)
        let encoded = try JSONEncoder().encode([digest])
        #expect(try JSONDecoder().decode([SHA256Digest].self, from: encoded) == [digest])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([SHA256Digest].self, from: Data("[\"../../etc/passwd\"]".utf8))
        }
    }

    @Test("error messages name the input")
    func messages() {
        #expect(SHA256DigestError.invalidCharacter("x/y", offset: 1).description.contains("\"x/y\""))
        #expect(!SHA256DigestError.wrongLength("a\u{0}b", count: 3).description.contains("\u{0}"))
    }
}
