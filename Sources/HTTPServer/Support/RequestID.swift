import Synchronization

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

    /// 32 lowercase hex digits, unique within the process and unpredictable in practice across
    /// processes: a per-request counter run through splitmix64's bijective mixer under two keys drawn
    /// from the system's random source once per process. (A `getrandom(2)` per request cost more than
    /// the rest of a probe's answer; an id only has to be unique, it guards nothing.)
    public static func generate() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        let digits: StaticString = "0123456789abcdef"
        let high = mix(n &+ keys.0), low = mix(n ^ keys.1)
        return String(unsafeUninitializedCapacity: 32) { out in
            for i in 0..<16 {
                out[i] = digits.utf8Start[Int((high >> (4 * i)) & 0xF)]
                out[16 + i] = digits.utf8Start[Int((low >> (4 * i)) & 0xF)]
            }
            return 32
        }
    }

    private static let counter = Atomic<UInt64>(0)
    private static let keys: (UInt64, UInt64) = {
        var rng = SystemRandomNumberGenerator()
        return (rng.next(), rng.next())
    }()

    /// splitmix64's finalizer: a bijection on 64-bit words that spreads every input bit over the output.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    static func resolve(_ header: String?) -> String {
        if let header, isWellFormed(header) { return header }
        return generate()
    }
}
