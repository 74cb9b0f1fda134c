import Testing
@testable import AdapterFormats

/// PEFT's pattern keys against Python's `re`: the same module names match, the same keys are refused
/// (plus the constructs this engine refuses on purpose), and no key can make matching super-linear.
@Suite("pattern keys: Python's re semantics in linear time")
struct PatternKeyTests {
    // Generated with Python 3.11's `re`: re.match(rf"(.*\.)?({key})$", module) for every module below.
    static let modules: [String] = [
        "model.layers.0.self_attn.q_proj",
        "model.layers.1.self_attn.q_proj",
        "model.layers.12.self_attn.o_proj",
        "model.layers.0.mlp.gate_proj",
        "vision_tower.vision_model.encoder.layers.3.mlp.fc1",
        "vision_tower.vision_model.encoder.layers.3.mlp.fc2",
        "encoder.block.0.layer.0.SelfAttention.q",
        "decoder.block.5.layer.1.EncDecAttention.k",
        "model.layers.7.mlp.experts.17.w1",
        "q_proj",
        "xq_proj",
        "model.layers.0.self_attn.q_proj\n",
        "model.layers.0.self_attnXq_proj",
        "lm_head",
        "model.embed_tokens",
        "model.layers.0.self_attn.é",
        "ab",
        "a.b",
    ]
    static let answers: [(key: String, matching: [Int])] = [
        ("q_proj", [0, 1, 9, 11]),
        ("self_attn.q_proj", [0, 1, 11, 12]),
        ("layers.0.self_attn.q_proj", [0, 11, 12]),
        ("layers.1.self_attn.q_proj", [1]),
        ("q", [6]),
        ("proj", []),
        ("layers\\.(0|1)\\..*q_proj", [0, 1, 11, 12]),
        (".*mlp.*", [3, 4, 5, 8]),
        ("(q|k|v)_proj", [0, 1, 9, 11]),
        ("[qkv]_proj", [0, 1, 9, 11]),
        ("[^q]_proj", [2]),
        ("layers\\.\\d+\\.mlp\\.fc1", [4]),
        ("layers\\.[0-9]{2}\\..*", [2]),
        ("layers\\.\\d{1,2}\\.self_attn\\.o_proj", [2]),
        ("layers\\.1\\d*\\..*", [1, 2]),
        ("^model.*q_proj", [0, 1, 11, 12]),
        ("model\\.layers\\.0\\.self_attn\\.q_proj$", [0, 11]),
        ("\\bq_proj", [0, 1, 9, 11]),
        ("\\Bq_proj", []),
        ("q_proj\\Z", [0, 1, 9]),
        ("fc[12]", [4, 5]),
        ("fc\\d", [4, 5]),
        ("experts\\.\\d+\\.w[13]", [8]),
        ("(?:encoder|decoder)\\.block\\.\\d+\\.layer\\.\\d+\\.SelfAttention\\.[qkvo]", [6]),
        ("(?P<part>vision_tower).*", [4, 5]),
        ("a)(b", [16]),
        ("x)|(.*", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]),
        ("(?#comment)q_proj", [0, 1, 9, 11]),
        ("q_proj|", [0, 1, 9, 11]),
        ("", []),
        (".*", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]),
        ("q_pro.", [0, 1, 9, 11]),
        ("q_pro\\w", [0, 1, 9, 11]),
        ("\\w+_proj", [0, 1, 2, 3, 9, 10, 11, 12]),
        ("\\W", []),
        ("\\s", []),
        ("\\S+", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]),
        ("q_proj{1}", [0, 1, 9, 11]),
        ("q_proj{0,1}", [0, 1, 9, 11]),
        ("q_proj{,}", [0, 1, 9, 11]),
        ("q_proj{}", []),
        ("q_proj{2,", []),
        ("(q_)?proj", [0, 1, 9, 11]),
        ("(q_)*proj", [0, 1, 9, 11]),
        ("(q_)+proj", [0, 1, 9, 11]),
        ("(q|)_proj", [0, 1, 9, 11]),
        ("[\\w.]+", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]),
        ("[\\d]+", []),
        ("[a-z_]+", [0, 1, 2, 3, 6, 7, 9, 10, 11, 13, 14, 16, 17]),
        ("[.]q_proj", []),
        ("\\.q_proj", []),
        ("é", [15]),
        ("\\u00e9.*", [15]),
        ("\\x71_proj", [0, 1, 9, 11]),
        ("lm_head", [13]),
        ("embed_tokens", [14]),
        ("layers.*(?:gate|up|down)_proj", [3]),
        ("([a-z]+)*\\.q_proj", []),
        ("q_proj*?", [0, 1, 9, 11]),
        ("q_pro+?j", [0, 1, 9, 11]),
        ("layers\\.0\\.self_attn\\.q_proj\\n", [11]),
    ]
    // Keys Python's re refuses (re.error), refused here too.
    static let pythonErrors: [String] = [
        "a**",  // multiple repeat at position 10
        "a*?*",  // multiple repeat at position 11
        "a{2}{3}",  // multiple repeat at position 12
        "a{3,2}",  // min repeat greater than max repeat at position 10
        "{1}",  // nothing to repeat at position 8
        "x|*",  // nothing to repeat at position 10
        "(*)",  // nothing to repeat at position 9
        "[z-a]",  // bad character range z-a at position 9
        "[\\d-z]",  // bad character range \d-z at position 9
        "[a-\\d]",  // bad character range a-\d at position 9
        "\\q",  // bad escape \q at position 8
        "(?P<1>a)",  // bad character in group name '1' at position 12
        "(?P<>a)",  // missing group name at position 12
        "\\x4",  // incomplete escape \x4 at position 8
        "[",  // unterminated character set at position 8
        ")",  // unbalanced parenthesis at position 9
        "((a)",  // missing ), unterminated subpattern at position 7
        "^*",  // nothing to repeat at position 9
        "\\b*",  // nothing to repeat at position 10
        "(?#c)*",  // nothing to repeat at position 13
        "\\Z*",  // nothing to repeat at position 10
        "(",  // missing ), unterminated subpattern at position 7
        "a)",  // unbalanced parenthesis at position 10
        "[]",  // unterminated character set at position 8
    ]

    @Test("every key matches exactly the modules Python's re.match does", arguments: answers.indices)
    func knownAnswers(_ i: Int) throws {
        let (key, expected) = Self.answers[i]
        let compiled = try PatternKey(key)
        let matching = Self.modules.indices.filter { compiled.matches(Self.modules[$0]) }
        #expect(matching == expected, "key \(key.debugDescription): matched \(matching.map { Self.modules[$0] })")
    }

    @Test("keys Python refuses are refused", arguments: pythonErrors)
    func pythonRefuses(_ key: String) {
        #expect(throws: PatternRegexError.self) { _ = try PatternKey(key) }
    }

    /// Python accepts these; they need backtracking or change matching in ways a Pike VM cannot
    /// follow, so the service refuses them with a message rather than risk a wrong rank or a stall.
    @Test("constructs refused on purpose", arguments: [
        "(a)\\1", "(?P<n>a)(?P=n)", "q(?=_proj)", "q(?!x)_proj", "(?<=\\.)q_proj", "(?<!x)q_proj", "(?>q_proj)",
        "q_proj*+", "q_proj++", "(?i)q_proj", "(?i:Q_PROJ)", "(?(1)a|b)", "\\0", "\\01",
    ])
    func unsupported(_ key: String) {
        #expect(throws: PatternRegexError.self) { _ = try PatternKey(key) }
        do { _ = try PatternKey(key) } catch {
            guard case .unsupported = error else { Issue.record("\(key): \(error) should say unsupported"); return }
        }
    }

    @Test("catastrophic-backtracking keys answer at once, and correctly", .timeLimit(.minutes(1)))
    func noBacktracking() throws {
        let long = String(repeating: "a", count: 20_000) + "b"
        let short = "x." + String(repeating: "a", count: 30)
        // Python 3.11 answers the first four on `short` and never finishes "(.*)*x" on it.
        let expected: [(key: String, onShort: Bool)] = [
            ("(a+)+", true), ("(a*)*", true), ("(a|a)+", true), ("(a|aa)+", true),
            ("(.*)*x", false), ("([a-z]+)*\\.q_proj", false), ("(a+)+$", true), ("((a+)+)+c", false),
        ]
        for (key, onShort) in expected {
            let compiled = try PatternKey(key)
            #expect(compiled.matches(long) == false, "\(key) on a-a-…-b")
            #expect(compiled.matches(short) == onShort, "\(key) on x.aaa…")
        }
    }

    @Test("program size: at the limit compiled, one past refused")
    func programLimit() throws {
        // "(.*\.)?(" + key + ")$" around the key costs a fixed number of instructions: find it, then
        // fill the rest with single-scalar copies of a counted repeat.
        let base = try PatternRegex("(.*\\.)?()$").program.count
        let room = PatternRegex.maxProgramSize - base
        _ = try PatternKey("a{\(room)}")
        #expect(throws: PatternRegexError.tooComplex(limit: PatternRegex.maxProgramSize)) { _ = try PatternKey("a{\(room + 1)}") }
        #expect(throws: PatternRegexError.tooComplex(limit: PatternRegex.maxProgramSize)) { _ = try PatternKey("a{99999999999999999999}") }
        #expect(throws: PatternRegexError.tooComplex(limit: PatternRegex.maxProgramSize)) { _ = try PatternKey("(a{64}){64}") }
    }

    @Test("group nesting: at the limit parsed, one past refused (no stack can be exhausted)")
    func nestingLimit() throws {
        // The wrapper "(.*\.)?(KEY)" already opens one group around the key.
        let depth = PatternRegex.maxNesting - 1
        _ = try PatternKey(String(repeating: "(", count: depth) + "a" + String(repeating: ")", count: depth))
        let past = String(repeating: "(", count: depth + 1) + "a" + String(repeating: ")", count: depth + 1)
        #expect(throws: PatternRegexError.self) { _ = try PatternKey(past) }
        let hostile = String(repeating: "(", count: 100_000)
        #expect(throws: PatternRegexError.self) { _ = try PatternKey(hostile) }
    }

    @Test("plain keys and the VM agree on ASCII names, also where '.' is a wildcard")
    func plainAgreesWithVM() throws {
        let names = ["model.layers.0.self_attn.q_proj", "model.layers.0Xself_attn.q_proj", "q_proj", "a", "", ".q_proj", "x.q-proj"]
        for key in ["q_proj", "layers.0.self_attn.q_proj", "q-proj", ".q_proj", "a", "self_attn.q_proj", "0.self"] {
            let plain = try PatternKey(key)
            let vm = try PatternRegex("(.*\\.)?(" + key + ")$")
            for name in names {
                #expect(plain.matches(name) == vm.matchesPrefix(of: Array(name.unicodeScalars)), "\(key) on \(name)")
            }
        }
    }
}
