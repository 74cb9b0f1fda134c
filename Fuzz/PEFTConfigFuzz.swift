// libFuzzer entry for PEFTConfig: an uploaded adapter_config.json. Fuzz/run.sh links it against the
// AdapterFormats module built from every file under Sources/AdapterFormats, and compiles
// Fuzz/Support/FuzzSupport.swift beside it.
//
// The input is the config file's bytes. On success, for each of a fixed list of realistic module
// names (Gemma, PaliGemma, SigLIP, T5) and for up to 8 names taken from the config's own
// target_modules, invariants besides no trap and no sanitizer report:
//   - rank(for:) is r or a rank_pattern value; alpha(for:) is lora_alpha or an alpha_pattern value;
//   - where this file can decide PEFT's rule `re.match(rf"(.*\.)?({key})$", module)` on its own, the
//     value is that of the first key (in the order `rankPattern`/`alphaPattern` list them) that matches:
//     plain keys (name characters and ".") by hand with Python's semantics, any module; other keys
//     with Swift Regex, when the key's syntax means the same to Python's `re` and the module is ASCII
//     without a newline (see `isCommonRegex`). Independent of the parser's own matcher;
//   - scale(for:rank:) is alpha/r, or alpha/√r with use_rslora, and finite;
//   - encoded() parses again into an equal config, whose encoded() is the same bytes;
//   - uniform(rank:) (what every squeeze writes) gives that rank and alpha to every module.
import AdapterFormats
import Foundation

let realisticModules = [
    "model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.k_proj", "model.layers.10.self_attn.v_proj",
    "model.layers.17.self_attn.o_proj", "model.layers.0.mlp.gate_proj", "model.layers.1.mlp.up_proj",
    "model.layers.27.mlp.down_proj", "model.embed_tokens", "lm_head",
    "language_model.model.layers.0.self_attn.q_proj", "language_model.model.layers.5.mlp.down_proj",
    "vision_tower.vision_model.encoder.layers.3.mlp.fc1", "vision_tower.vision_model.encoder.layers.3.self_attn.out_proj",
    "vision_tower.vision_model.encoder.layers.11.self_attn.q_proj", "multi_modal_projector.linear",
    "encoder.block.0.layer.0.SelfAttention.q", "encoder.block.0.layer.1.DenseReluDense.wi_0",
    "decoder.block.5.layer.1.EncDecAttention.v", "decoder.block.11.layer.0.SelfAttention.o",
]

/// PEFT's rule (`peft.utils.other.get_pattern_key`): a key matches a module when
/// `re.match(rf"(.*\.)?({key})$", module)` does, with Python's `re` semantics: "." is any scalar but
/// "\n", and "$" is the end or the place before a final "\n". Decided here independently of the
/// parser's matcher, where that can be done with certainty; nil where it cannot.
func referenceMatch(key: String, module: String, regexCache: inout [String: Regex<AnyRegexOutput>?]) -> Bool? {
    let k = Array(key.unicodeScalars), m = Array(module.unicodeScalars)
    if !k.isEmpty, k.allSatisfy({ isNameScalar($0) || $0 == "." }) {
        return plainKeyMatches(k, m)
    }
    // Other keys: Swift Regex, on the syntax where it and Python's `re` agree, for ASCII names without
    // a newline (where graphemes, scalars and bytes coincide and "$" is simply the end), and keys
    // whose backtracking stays cheap on names this short.
    guard m.count <= 100, m.allSatisfy({ $0.isASCII && $0 != "\n" }), isCommonRegex(k) else { return nil }
    if regexCache[key] == nil {
        regexCache[key] = .some(try? Regex("(?:.*\\.)?(?:" + key + ")").matchingSemantics(.unicodeScalar))
    }
    guard let regex = regexCache[key]! else { return nil }
    return (try? regex.wholeMatch(in: module)) != nil
}

func isNameScalar(_ c: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-"
}

/// A key of name characters and "." (each "." any scalar but "\n"): the module's last key.count
/// scalars, before an optional final "\n", match it, and what precedes them is empty or ends in "."
/// with no "\n" before that (`(.*\.)?`).
func plainKeyMatches(_ key: [Unicode.Scalar], _ module: [Unicode.Scalar]) -> Bool {
    var candidates = [module[...]]
    if module.last == "\n" { candidates.append(module.dropLast()) }
    for text in candidates where text.count >= key.count {
        let start = text.endIndex - key.count
        guard zip(key, text[start...]).allSatisfy({ k, c in k == "." ? c != "\n" : k == c }) else { continue }
        let prefix = text[..<start]
        if prefix.isEmpty || (prefix.last == "." && !prefix.dropLast().contains("\n")) { return true }
    }
    return false
}

/// Whether a key uses only syntax that Python's `re` and Swift Regex read alike, and cannot make a
/// backtracking engine slow on a short name: name characters, ".", the escapes \. \d \w \- \_,
/// groups "(...)" and "(?:...)", "|", classes "[...]"/"[^...]" of name characters and ranges between
/// them, and at most two unbounded quantifiers "*" "+", besides "?" and "{m}"/"{m,n}" (n ≤ 20), each on
/// an atom or on a group holding no quantifier and no "|".
func isCommonRegex(_ s: [Unicode.Scalar]) -> Bool {
    var i = 0
    var unbounded = 0
    var groups: [Bool] = []          // per open group: whether it holds a quantifier or "|"
    var last: (quantifiable: Bool, complexGroup: Bool) = (false, false)
    func mark() { if !groups.isEmpty { groups[groups.count - 1] = true } }
    func isAlnum(_ c: Unicode.Scalar) -> Bool { isNameScalar(c) && c != "-" }
    while i < s.count {
        let c = s[i]
        switch c {
        case _ where isNameScalar(c) || c == ".":
            i += 1; last = (true, false)
        case "\\":
            guard i + 1 < s.count, ".dw-_".unicodeScalars.contains(s[i + 1]) else { return false }
            i += 2; last = (true, false)
        case "(":
            if i + 1 < s.count, s[i + 1] == "?" {
                guard i + 2 < s.count, s[i + 2] == ":" else { return false }
                i += 3
            } else {
                i += 1
            }
            groups.append(false); last = (false, false)
        case ")":
            guard let complex = groups.popLast() else { return false }
            i += 1; last = (true, complex)
        case "|":
            mark(); i += 1; last = (false, false)
        case "*", "+", "?":
            guard last.quantifiable, !(last.complexGroup && c != "?") else { return false }
            if c != "?" { unbounded += 1 }
            mark(); i += 1; last = (false, false)
        case "{":
            guard last.quantifiable, !last.complexGroup else { return false }
            var j = i + 1
            var numbers: [Int] = [0]
            var digits = 0
            while j < s.count, s[j] != "}" {
                if ("0"..."9").contains(s[j]) {
                    numbers[numbers.count - 1] = min(numbers[numbers.count - 1] * 10 + Int(s[j].value - 48), 1000)
                    digits += 1
                } else if s[j] == ",", numbers.count == 1, digits > 0 {
                    numbers.append(0); digits = 0
                } else {
                    return false
                }
                j += 1
            }
            guard j < s.count, digits > 0, numbers.last! <= 20, numbers.first! <= numbers.last! else { return false }
            mark(); i = j + 1; last = (false, false)
        case "[":
            var j = i + 1
            if j < s.count, s[j] == "^" { j += 1 }
            var items = 0
            while j < s.count, s[j] != "]" {
                guard isAlnum(s[j]) else { return false }
                if j + 2 < s.count, s[j + 1] == "-", s[j + 2] != "]" {
                    guard isAlnum(s[j + 2]), s[j].value <= s[j + 2].value else { return false }
                    j += 3
                } else {
                    j += 1
                }
                items += 1
            }
            guard j < s.count, items > 0 else { return false }
            i = j + 1; last = (true, false)
        default:
            return false
        }
    }
    return groups.isEmpty && unbounded <= 2
}

/// The value the first key that matches gives, in the order the config tries its keys; nil when no key
/// matches; `.unknown` when a key before the deciding one cannot be judged.
enum Expected<V: Equatable> { case value(V?), unknown }

func referenceLookup<V>(_ pattern: [(key: String, value: V)], _ module: String,
                        _ cache: inout [String: Regex<AnyRegexOutput>?]) -> Expected<V> {
    for (key, value) in pattern {
        guard let matches = referenceMatch(key: key, module: module, regexCache: &cache) else { return .unknown }
        if matches { return .value(value) }
    }
    return .value(nil)
}

func checkConfig(_ config: PEFTConfig, modules: [String]) {
    fuzzCheck(config.rank >= 1, "r \(config.rank)")
    fuzzCheck(config.alpha.isFinite, "lora_alpha \(config.alpha)")
    var cache: [String: Regex<AnyRegexOutput>?] = [:]
    let ranks = Set(config.rankPattern.map(\.value) + [config.rank])
    let alphas = Set(config.alphaPattern.map(\.value) + [config.alpha])
    for module in modules {
        let rank = config.rank(for: module)
        let alpha = config.alpha(for: module)
        fuzzCheck(ranks.contains(rank), "rank(for: \(module.debugDescription)) = \(rank): neither r nor a rank_pattern value")
        fuzzCheck(alphas.contains(alpha), "alpha(for: \(module.debugDescription)) = \(alpha): neither lora_alpha nor an alpha_pattern value")
        if case let .value(expected) = referenceLookup(config.rankPattern, module, &cache) {
            fuzzCheck(rank == expected ?? config.rank,
                      "rank(for: \(module.debugDescription)) = \(rank), PEFT's rule gives \(expected ?? config.rank)")
        }
        if case let .value(expected) = referenceLookup(config.alphaPattern, module, &cache) {
            fuzzCheck(alpha == expected ?? config.alpha,
                      "alpha(for: \(module.debugDescription)) = \(alpha), PEFT's rule gives \(expected ?? config.alpha)")
        }
        for r in [rank, 1, 64] {
            let scale = config.scale(for: module, rank: r)
            let expected = config.useRSLoRA ? alpha / Double(r).squareRoot() : alpha / Double(r)
            fuzzCheck(scale == expected && scale.isFinite, "scale(for: \(module.debugDescription), rank: \(r)) = \(scale), expected \(expected)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPEFTConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    let config: PEFTConfig
    do throws(AdapterError) { config = try PEFTConfig(json: bytes) } catch {
        switch error {
        case .invalidConfig, .unsupported: return 0
        default: fatalError("PEFTConfig(json:) threw an unexpected kind of error: \(error)")
        }
    }
    var modules = realisticModules
    if case let .array(targets)? = config.targetModules {
        modules += targets.prefix(8).compactMap(\.stringValue)
    } else if let target = config.targetModules?.stringValue {
        modules.append(target)
    }
    checkConfig(config, modules: modules)

    let encoded = config.encoded()
    do throws(AdapterError) {
        let again = try PEFTConfig(json: encoded)
        fuzzCheck(again == config, "encoded() parses into another config")
        fuzzCheck(again.encoded() == encoded, "encoded() is not a fixed point")
        fuzzCheck(again.rank == config.rank && again.alpha == config.alpha && again.useRSLoRA == config.useRSLoRA
                  && again.rankPattern.map(\.key) == config.rankPattern.map(\.key)
                  && again.rankPattern.map(\.value) == config.rankPattern.map(\.value)
                  && again.alphaPattern.map(\.key) == config.alphaPattern.map(\.key)
                  && again.alphaPattern.map(\.value) == config.alphaPattern.map(\.value),
                  "encoded() parses into a config that reads differently")
    } catch {
        fuzzCheck(false, "encoded() does not parse again: \(error)\n\(String(decoding: encoded, as: UTF8.self))")
    }

    let uniform = config.uniform(rank: 4)
    for module in modules {
        fuzzCheck(uniform.rank(for: module) == 4 && uniform.alpha(for: module) == 4 && uniform.scale(for: module, rank: 4) == 1,
                  "uniform(rank: 4) does not give \(module.debugDescription) rank 4, alpha 4, scale 1")
    }
    return 0
}
