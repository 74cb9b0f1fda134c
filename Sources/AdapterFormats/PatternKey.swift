/// PEFT's rule for `rank_pattern`, `alpha_pattern` and list-valued `target_modules`: a key matches a
/// module when it matches a dotted suffix of the module's name, `re.match(rf"(.*\.)?({key})$", name)`
/// (`peft.utils.other.get_pattern_key`). Keys are regular expressions; the first matching key wins,
/// in the config's order — we keep keys sorted, so a config should not rely on overlaps.
enum PatternKey {
    static func firstMatch<Value>(_ pattern: [(key: String, value: Value)], module: String) -> Value? {
        for (key, value) in pattern where matches(key: key, module: module) { return value }
        return nil
    }

    static func matches(key: String, module: String) -> Bool {
        // Keys made of name characters (by far the common case) need no regex engine: in the regex,
        // every "." is a wildcard and everything else literal, so `(.*\.)?(KEY)$` holds exactly when
        // the module's last key.count characters match KEY position by position and are either the
        // whole name or preceded by a literal ".". Same answer as the regex, without compiling one.
        let k = Array(key.utf8), m = Array(module.utf8)
        if !k.isEmpty, k.allSatisfy(isPlain) {
            guard m.count >= k.count else { return false }
            let start = m.count - k.count
            for i in 0..<k.count where k[i] != UInt8(ascii: ".") && k[i] != m[start + i] { return false }
            return start == 0 || m[start - 1] == UInt8(ascii: ".")
        }
        guard let regex = try? Regex("(?:.*\\.)?(?:" + key + ")") else { return false }
        return (try? regex.wholeMatch(in: module)) != nil
    }

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
