/// Request identifiers for `X-Request-Id`.
public enum RequestID {
    /// A client's id is kept when it is 1…128 characters of `A-Z a-z 0-9 . _ : -`; anything else
    /// (which could inject into logs or headers) is replaced by a generated one.
    public static func isWellFormed(_ id: String) -> Bool {
        let bytes = id.utf8
        guard (1...128).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            ASCII.isUnreserved(b) && b != UInt8(ascii: "~") || b == ASCII.colon
        }
    }

    /// 128 random bits as 32 lowercase hex digits.
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(32)
        for _ in 0..<2 {
            var word = rng.next() as UInt64
            for _ in 0..<16 {
                out.append(digits[Int(word & 0xF)])
                word >>= 4
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func resolve(_ header: String?) -> String {
        if let header, isWellFormed(header) { return header }
        return generate()
    }
}
