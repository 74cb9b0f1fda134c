/// A regular expression in the part of Python's `re` syntax that PEFT pattern keys use, compiled to
/// a Pike VM (Thompson's construction): matching costs O(text length × program size) and never
/// backtracks, so a key such as `(a+)+$` cannot stall the service the way it stalls a backtracking
/// engine (Swift's `Regex`, Python's `re`).
///
/// Supported, with Python's meaning: literals, `.` (any but `\n`), `[...]` and `[^...]` with ranges
/// and class escapes, `\d \D \w \W \s \S` (Unicode, as for `str` patterns), `\b \B \A \Z`, `^`, `$`
/// (the end, or before a final `\n`), groups `(...)`, `(?:...)`, `(?P<name>...)`, comments `(?#...)`,
/// alternation, `* + ? {m} {m,} {,n} {m,n}` and their lazy forms, escapes `\n \t \r \f \v \a \xhh
/// \uXXXX \UXXXXXXXX` and escaped punctuation. A `{` that does not start a valid repeat is a literal,
/// as in Python. Refused with `PatternRegexError.unsupported`: backreferences, lookaround, atomic
/// groups, possessive quantifiers, conditionals and inline flags — they cannot run in linear time, or
/// change which names match in ways this subset cannot express.
struct PatternRegex: Sendable {
    /// Most instructions one compiled pattern may have (counted repeats are expanded).
    static let maxProgramSize = 4096
    /// Deepest group nesting the parser follows.
    static let maxNesting = 64

    let program: [PatternInstruction]
    let sets: [PatternScalarSet]

    /// Compiles `pattern`; throws `PatternRegexError` naming the offset and what is wrong.
    init(_ pattern: String) throws(PatternRegexError) {
        var parser = PatternParser(Array(pattern.unicodeScalars))
        let node = try parser.parseWhole()
        var compiler = PatternCompiler()
        try compiler.emit(node)
        try compiler.append(.match)
        program = compiler.program
        sets = compiler.sets
    }
}

/// Why a pattern cannot be compiled.
enum PatternRegexError: Error, Equatable, CustomStringConvertible {
    case syntax(offset: Int, String)
    case unsupported(offset: Int, String)
    case tooComplex(limit: Int)

    var description: String {
        switch self {
        case let .syntax(offset, what): "\(what) at position \(offset)"
        case let .unsupported(offset, what): "\(what) at position \(offset) is not supported (only linear-time regular expressions are)"
        case let .tooComplex(limit): "it compiles to more than \(limit) instructions"
        }
    }
}

/// A zero-width test at a position.
enum PatternAssertion: Sendable, Equatable {
    case start              // ^ and \A (no MULTILINE)
    case end                // $: the end, or before a final "\n"
    case absoluteEnd        // \Z
    case wordBoundary       // \b
    case notWordBoundary    // \B
}

/// One Pike VM instruction.
enum PatternInstruction: Sendable, Equatable {
    case scalar(Unicode.Scalar)
    case any                            // any scalar but "\n"
    case set(Int)                       // index into `sets`
    case assert(PatternAssertion)
    case split(Int, Int)                // try both
    case jump(Int)
    case match
}

/// The parsed form of a pattern.
indirect enum PatternNode: Sendable {
    case empty
    case scalar(Unicode.Scalar)
    case any
    case set(PatternScalarSet)
    case assert(PatternAssertion)
    case concat([PatternNode])
    case alternation([PatternNode])
    case `repeat`(PatternNode, min: Int, max: Int?)
}

/// A character class: scalar ranges and class escapes, possibly negated.
struct PatternScalarSet: Sendable, Equatable {
    enum Class: Sendable, Equatable { case digit, word, space }
    var ranges: [ClosedRange<UInt32>] = []
    var classes: [(Class, negated: Bool)] = []
    var negated = false

    static func == (l: Self, r: Self) -> Bool {
        l.ranges == r.ranges && l.negated == r.negated
            && l.classes.map(\.0) == r.classes.map(\.0) && l.classes.map(\.negated) == r.classes.map(\.negated)
    }

    func contains(_ s: Unicode.Scalar) -> Bool {
        var hit = ranges.contains { $0.contains(s.value) }
        if !hit { hit = classes.contains { Self.is(s, $0.0) != $0.negated } }
        return hit != negated
    }

    /// Python's Unicode classes for `str` patterns: `\d` is a decimal digit (Nd), `\w` what
    /// `str.isalnum()` accepts or `_`, `\s` what `str.isspace()` accepts.
    static func `is`(_ s: Unicode.Scalar, _ c: Class) -> Bool {
        let p = s.properties
        switch c {
        case .digit:
            return p.generalCategory == .decimalNumber
        case .word:
            if s == "_" { return true }
            switch p.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .decimalNumber, .letterNumber, .otherNumber:
                return true
            default:
                return p.numericType != nil
            }
        case .space:
            return (0x09...0x0D).contains(s.value) || (0x1C...0x1F).contains(s.value) || p.isWhitespace
        }
    }
}
