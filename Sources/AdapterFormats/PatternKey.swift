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
        // Plain dotted names (by far the common case) need no regex engine.
        if key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-" }) && !key.contains("..") {
            if module == key { return true }
            if module.hasSuffix("." + key) { return true }
            guard key.contains(".") else { return false }
            // A "." in a regex matches any character; honour that for fidelity with PEFT.
        }
        guard let regex = try? Regex("(?:.*\\.)?(?:" + key + ")") else { return false }
        return (try? regex.wholeMatch(in: module)) != nil
    }
}
