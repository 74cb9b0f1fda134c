/// One key of `rank_pattern`, `alpha_pattern` (or a list-valued `target_modules`), compiled. PEFT's
/// rule (`peft.utils.other.get_pattern_key`): a key matches a module when
/// `re.match(rf"(.*\.)?({key})$", name)` does. The key is pasted into that pattern as text, as PEFT
/// does, so the whole pattern is what is parsed (a key like `a)(b` is legal there, and here).
struct PatternKey: Sendable {
    let key: String
    private let matcher: Matcher

    private enum Matcher: Sendable {
        /// Keys made of name characters (by far the common case) need no VM: in the regex every "."
        /// is a wildcard and everything else literal, so the pattern holds exactly when the name's
        /// last key.count scalars match KEY position by position and are either the whole name or
        /// preceded by a literal ".". Used for ASCII names without a newline (where bytes are scalars).
        case plain([UInt8], PatternRegex)
        case regex(PatternRegex)
    }

    init(_ key: String) throws(PatternRegexError) {
        self.key = key
        let bytes = Array(key.utf8)
        let regex = try PatternRegex("(.*\\.)?(" + key + ")$")
        matcher = !bytes.isEmpty && bytes.allSatisfy(Self.isPlain) ? .plain(bytes, regex) : .regex(regex)
    }

    /// The bytes a plain key compares at most; nil for a key that needs the VM.
    var plainLength: Int? { if case let .plain(k, _) = matcher { k.count } else { nil } }

    /// The VM program's size: a match against n scalars takes at most (n + 1) × this many steps.
    var programSize: Int {
        switch matcher {
        case let .plain(_, r), let .regex(r): r.program.count
        }
    }

    func matches(_ module: String) -> Bool {
        switch matcher {
        case let .plain(k, regex):
            let m = Array(module.utf8)
            guard PatternKey.isPlainName(m) else {
                // Non-ASCII or multi-line names: the VM, which counts scalars and knows "$" and "\n".
                return regex.matchesPrefix(of: Array(module.unicodeScalars))
            }
            guard m.count >= k.count else { return false }
            let start = m.count - k.count
            for i in 0..<k.count where k[i] != UInt8(ascii: ".") && k[i] != m[start + i] { return false }
            return start == 0 || m[start - 1] == UInt8(ascii: ".")
        case let .regex(r):
            return r.matchesPrefix(of: Array(module.unicodeScalars))
        }
    }

    /// Names the plain comparison handles: ASCII (a byte is a scalar) without a newline.
    static func isPlainName(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { $0 < 0x80 && $0 != 0x0A } }

    private static func isPlain(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

/// A pattern dictionary (`rank_pattern` or `alpha_pattern`) with compiled keys, in the order keys
/// are tried.
struct PatternTable<Value: Sendable>: Sendable {
    let entries: [(key: PatternKey, value: Value)]

    /// JSON objects carry no order we can keep; the most specific (longest) key is tried first, then
    /// by name. (PEFT tries keys in the file's order: a config should not rely on overlapping keys.)
    init(_ pairs: [(key: PatternKey, value: Value)]) {
        entries = pairs.sorted {
            $0.key.key.count != $1.key.key.count ? $0.key.key.count > $1.key.key.count : $0.key.key < $1.key.key
        }
    }

    func firstMatch(_ module: String) -> Value? {
        for (key, value) in entries where key.matches(module) { return value }
        return nil
    }

    /// An upper bound on the steps matching every key against every one of `names` takes,
    /// computed in O(keys + names) without matching anything.
    func cost(names: [String]) -> Int {
        // Plain keys compare bytes only when every name is a plain one; otherwise they run the VM too.
        let plainNames = names.allSatisfy { PatternKey.isPlainName(Array($0.utf8)) }
        let plain = entries.reduce(0) { $0 &+ (plainNames ? ($1.key.plainLength.map { $0 + 1 } ?? 0) : 0) }
        let program = entries.reduce(0) { $0 &+ (plainNames && $1.key.plainLength != nil ? 0 : $1.key.programSize) }
        let scalars = names.reduce(0) { $0 &+ $1.unicodeScalars.count &+ 1 }
        let (a, o1) = plain.multipliedReportingOverflow(by: names.count)
        let (b, o2) = program.multipliedReportingOverflow(by: scalars)
        let (sum, o3) = a.addingReportingOverflow(b)
        return o1 || o2 || o3 ? Int.max : sum
    }
}
