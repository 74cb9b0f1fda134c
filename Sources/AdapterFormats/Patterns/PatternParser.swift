/// Parses Python `re` syntax (the subset `PatternRegex` documents) into a `PatternNode`. A recursive
/// descent whose depth is bounded by `PatternRegex.maxNesting`, so no pattern can exhaust the stack.
struct PatternParser {
    private let text: [Unicode.Scalar]
    private var i = 0
    private var depth = 0

    init(_ text: [Unicode.Scalar]) { self.text = text }

    mutating func parseWhole() throws(PatternRegexError) -> PatternNode {
        let node = try parseAlternation()
        if i < text.count {
            // Only an unbalanced ")" stops the top level early.
            throw .syntax(offset: i, "unbalanced parenthesis")
        }
        return node
    }

    private var peek: Unicode.Scalar? { i < text.count ? text[i] : nil }

    private mutating func parseAlternation() throws(PatternRegexError) -> PatternNode {
        var branches = [try parseConcat()]
        while peek == "|" {
            i += 1
            branches.append(try parseConcat())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseConcat() throws(PatternRegexError) -> PatternNode {
        var items: [PatternNode] = []
        while let c = peek, c != "|", c != ")" {
            // A comment is nothing: a quantifier after it then has nothing to repeat, as in Python.
            guard var atom = try parseAtom() else { continue }
            // Quantifiers: one, optionally lazy ("?"); a second is Python's "multiple repeat".
            let quantifierStart = i
            if let (min, max) = try parseQuantifier() {
                if case .assert = atom { throw .syntax(offset: quantifierStart, "nothing to repeat") }
                if peek == "?" { i += 1 }                      // lazy: the same set of matches
                else if peek == "+" { throw .unsupported(offset: i, "a possessive quantifier") }
                atom = .repeat(atom, min: min, max: max)
                if let c = peek, c == "*" || c == "+" || c == "?" || (c == "{" && isRepeatBrace()) {
                    throw .syntax(offset: i, "multiple repeat")
                }
            }
            items.append(atom)
        }
        return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .concat(items))
    }

    /// `*`, `+`, `?` or a valid `{m}`, `{m,}`, `{,n}`, `{m,n}`; nil when none follows.
    private mutating func parseQuantifier() throws(PatternRegexError) -> (Int, Int?)? {
        switch peek {
        case "*": i += 1; return (0, nil)
        case "+": i += 1; return (1, nil)
        case "?": i += 1; return (0, 1)
        case "{":
            guard isRepeatBrace() else { return nil }
            let start = i
            i += 1
            let low = readNumber()
            var high = low
            if peek == "," {
                i += 1
                high = readNumber()
            }
            i += 1   // "}"
            let min = low ?? 0
            if let high, let lowValue = low, high < lowValue { throw .syntax(offset: start, "min repeat greater than max repeat") }
            if min > PatternRegex.maxProgramSize || (high ?? 0) > PatternRegex.maxProgramSize {
                throw .tooComplex(limit: PatternRegex.maxProgramSize)
            }
            return (min, high)
        default:
            return nil
        }
    }

    /// Python reads `{` as a repeat only for `{digits}`, `{digits,}`, `{,digits}`, `{digits,digits}`
    /// (and `{,}`); anything else is a literal brace.
    private func isRepeatBrace() -> Bool {
        var j = i + 1
        var digitsBefore = 0, digitsAfter = 0, comma = false
        while j < text.count {
            let c = text[j]
            if c == "}" { return digitsBefore > 0 || comma || digitsAfter > 0 }
            if c == "," { if comma { return false }; comma = true }
            else if ("0"..."9").contains(c) { if comma { digitsAfter += 1 } else { digitsBefore += 1 } }
            else { return false }
            j += 1
        }
        return false
    }

    /// Decimal digits, capped so a huge count cannot overflow (the cap is past every limit).
    private mutating func readNumber() -> Int? {
        var value: Int?
        while let c = peek, ("0"..."9").contains(c) {
            value = Swift.min((value ?? 0) * 10 + Int(c.value - 48), 1 << 40)
            i += 1
        }
        return value
    }

    /// One atom; nil for a comment group.
    private mutating func parseAtom() throws(PatternRegexError) -> PatternNode? {
        let start = i
        let c = text[i]
        i += 1
        switch c {
        case ".": return .any
        case "^": return .assert(.start)
        case "$": return .assert(.end)
        case "*", "+", "?": throw .syntax(offset: start, "nothing to repeat")
        case "{" where isRepeatBrace(from: start): throw .syntax(offset: start, "nothing to repeat")
        case "[": return .set(try parseSet())
        case "\\": return try parseEscape(inSet: false).node
        case "(": return try parseGroup(start: start)
        default: return .scalar(c)
        }
    }

    private func isRepeatBrace(from position: Int) -> Bool {
        var copy = self
        copy.i = position
        return copy.isRepeatBrace()
    }

    private mutating func parseGroup(start: Int) throws(PatternRegexError) -> PatternNode? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= PatternRegex.maxNesting else {
            throw .unsupported(offset: start, "nesting deeper than \(PatternRegex.maxNesting) groups")
        }
        if peek == "?" {
            i += 1
            switch peek {
            case ":": i += 1
            case "P":
                i += 1
                guard peek == "<" else { throw .unsupported(offset: start, "a named backreference") }
                i += 1
                let nameStart = i
                while let c = peek, c != ">" {
                    guard c == "_" || c.properties.isAlphabetic || ("0"..."9").contains(c) else {
                        throw .syntax(offset: i, "bad character in group name")
                    }
                    i += 1
                }
                guard peek == ">", i > nameStart, !("0"..."9").contains(text[nameStart]) else {
                    throw .syntax(offset: nameStart, "missing or bad group name")
                }
                i += 1
            case "#":
                while let c = peek, c != ")" { i += 1 }
                guard peek == ")" else { throw .syntax(offset: start, "missing ), unterminated comment") }
                i += 1
                return nil
            case "=", "!": throw .unsupported(offset: start, "a lookahead")
            case "<": throw .unsupported(offset: start, "a lookbehind")
            case ">": throw .unsupported(offset: start, "an atomic group")
            case "(": throw .unsupported(offset: start, "a conditional group")
            default: throw .unsupported(offset: start, "an inline flag or extension")
            }
        }
        let inner = try parseAlternation()
        guard peek == ")" else { throw .syntax(offset: start, "missing ), unterminated subpattern") }
        i += 1
        return inner
    }

    /// One escape after `\`: a scalar, a class, or (outside sets) an assertion.
    private mutating func parseEscape(inSet: Bool) throws(PatternRegexError) -> (node: PatternNode, scalar: Unicode.Scalar?) {
        let start = i - 1
        guard let c = peek else { throw .syntax(offset: start, "bad escape (end of pattern)") }
        i += 1
        func cls(_ k: PatternScalarSet.Class, _ negated: Bool) -> (PatternNode, Unicode.Scalar?) {
            var set = PatternScalarSet()
            set.classes = [(k, negated)]
            return (.set(set), nil)
        }
        switch c {
        case "d": return cls(.digit, false)
        case "D": return cls(.digit, true)
        case "w": return cls(.word, false)
        case "W": return cls(.word, true)
        case "s": return cls(.space, false)
        case "S": return cls(.space, true)
        case "b" where !inSet: return (.assert(.wordBoundary), nil)
        case "b": return (.scalar("\u{08}"), "\u{08}")
        case "B" where !inSet: return (.assert(.notWordBoundary), nil)
        case "A" where !inSet: return (.assert(.start), nil)
        case "Z" where !inSet: return (.assert(.absoluteEnd), nil)
        case "n": return (.scalar("\n"), "\n")
        case "t": return (.scalar("\t"), "\t")
        case "r": return (.scalar("\r"), "\r")
        case "f": return (.scalar("\u{0C}"), "\u{0C}")
        case "v": return (.scalar("\u{0B}"), "\u{0B}")
        case "a": return (.scalar("\u{07}"), "\u{07}")
        case "x", "u", "U":
            let width = c == "x" ? 2 : (c == "u" ? 4 : 8)
            var value: UInt32 = 0
            for _ in 0..<width {
                guard let h = peek, let digit = Self.hex(h) else {
                    throw .syntax(offset: start, "incomplete escape \\\(c)")
                }
                value = value << 4 | digit
                i += 1
            }
            guard let scalar = Unicode.Scalar(value) else { throw .syntax(offset: start, "bad escape \\\(c): not a Unicode scalar") }
            return (.scalar(scalar), scalar)
        case "0"..."9":
            throw .unsupported(offset: start, "a backreference or octal escape")
        default:
            // Python refuses unknown escapes of ASCII letters; any other escaped scalar is itself.
            if c.isASCII, c.properties.isAlphabetic { throw .syntax(offset: start, "bad escape \\\(c)") }
            return (.scalar(c), c)
        }
    }

    private static func hex(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": c.value - 48
        case "a"..."f": c.value - 87
        case "A"..."F": c.value - 55
        default: nil
        }
    }

    /// A set after its `[`: `]` first is literal, `-` first or last is literal, ranges `a-z`.
    private mutating func parseSet() throws(PatternRegexError) -> PatternScalarSet {
        let start = i - 1
        var set = PatternScalarSet()
        if peek == "^" { set.negated = true; i += 1 }
        var first = true
        while true {
            guard let c = peek else { throw .syntax(offset: start, "unterminated character set") }
            if c == "]" && !first { i += 1; return set }
            first = false
            let itemStart = i
            guard let low = try setItem(&set) else {
                // A class escape cannot start a range ("[\\d-z]" is an error in Python).
                if peek == "-", i + 1 < text.count, text[i + 1] != "]" { throw .syntax(offset: itemStart, "bad character range") }
                continue
            }
            if peek == "-", i + 1 < text.count, text[i + 1] != "]" {
                i += 1
                guard let high = try setItem(&set) else { throw .syntax(offset: i, "bad character range") }
                guard low.value <= high.value else { throw .syntax(offset: i, "bad character range") }
                set.ranges.append(low.value...high.value)
            } else {
                set.ranges.append(low.value...low.value)
            }
        }
    }

    /// One set member: a scalar (returned) or a class escape (added to `set`, nil returned).
    private mutating func setItem(_ set: inout PatternScalarSet) throws(PatternRegexError) -> Unicode.Scalar? {
        let c = text[i]
        i += 1
        guard c == "\\" else { return c }
        let (node, scalar) = try parseEscape(inSet: true)
        if let scalar { return scalar }
        if case let .set(inner) = node { set.classes += inner.classes }
        return nil
    }
}
