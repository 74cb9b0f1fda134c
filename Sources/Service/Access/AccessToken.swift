import Store

/// The bearer tokens the service issues: `lsq_` and 43 characters of base62, 256 random bits from
/// the operating system, a shape secret scanners can match (as `hf_…` and `ghp_…` are). Only a
/// token's SHA-256 is stored; looking a token up is an indexed search for that hash, so no secret is
/// ever compared byte by byte.
enum AccessToken {
    static let prefix = "lsq_"
    /// Characters after the prefix: 43 × log2(62) ≈ 256.03 bits.
    static let bodyLength = 43
    static var length: Int { prefix.utf8.count + bodyLength }
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// A new token: each character uniform over the 62 symbols, from `SystemRandomNumberGenerator`
    /// (`getrandom(2)`).
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let body = (0..<bodyLength).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return prefix + String(decoding: body, as: UTF8.self)
    }

    /// Whether `text` has a token's shape (it may still be unknown).
    static func isWellFormed(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == length, bytes.starts(with: prefix.utf8) else { return false }
        return bytes.dropFirst(prefix.utf8.count).allSatisfy(isBase62)
    }

    static func isBase62(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"): true
        default: false
        }
    }

    /// The lookup key the catalog stores.
    static func hash(_ token: String) throws -> SHA256Digest { try SHA256.hash(Array(token.utf8)) }
}
