import Foundation
import Testing
import Store

@Suite("SHA256 (libcrypto EVP)")
struct SHA256Tests {
    /// FIPS 180-2 / NIST known answers.
    @Test("known-answer vectors", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownAnswers(message: String, expected: String) throws {
        #expect(try SHA256.hash(Data(message.utf8)).hex == expected)
    }

    @Test("one million 'a' fed in uneven chunks")
    func millionA() throws {
        var hasher = try SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 999)
        var fed = 0
        while fed < 1_000_000 {
            let count = min(chunk.count, 1_000_000 - fed)
            try hasher.update(Array(chunk.prefix(count)))
            fed += count
        }
        #expect(try hasher.finalize().hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("chunked updates equal a single update", arguments: [1, 7, 63, 64, 65, 1000, 4096])
    func chunkedEqualsSingle(chunkSize: Int) throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<10_000).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        var hasher = try SHA256()
        for start in stride(from: 0, to: bytes.count, by: chunkSize) {
            try hasher.update(Array(bytes[start..<min(start + chunkSize, bytes.count)]))
        }
        #expect(try hasher.finalize() == SHA256.hash(bytes))
    }

    @Test("empty updates change nothing")
    func emptyUpdates() throws {
        var hasher = try SHA256()
        try hasher.update([UInt8]())
        try hasher.update(Data("abc".utf8))
        try hasher.update(Data())
        #expect(try hasher.finalize().hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("raw bytes round-trip through the hex digest")
    func rawBytes() throws {
        let digest = try SHA256.hash(Data("abc".utf8))
        #expect(digest.rawBytes.count == 32)
        #expect(digest.rawBytes.prefix(4) == [0xba, 0x78, 0x16, 0xbf])
    }
}
