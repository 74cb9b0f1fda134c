/// Random identifiers from the operating system's generator (`getrandom(2)` on Linux).
enum RandomHex {
    /// `words` × 64 random bits as 16 × `words` lowercase hex characters.
    static func make(words: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<words).map { _ in
            let digits = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }.joined()
    }
}
