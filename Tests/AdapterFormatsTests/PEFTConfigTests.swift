import Foundation
import Testing
@testable import AdapterFormats
import TestSupport

/// One row of the pattern-matching table: a `rank_pattern` key, a module name, and whether PEFT's
/// `re.match(rf"(.*\.)?({key})$", name)` matches.
struct PatternCase: CustomTestStringConvertible, Sendable {
    let key: String
    let module: String
    let matches: Bool
    init(_ key: String, _ module: String, _ matches: Bool) { (self.key, self.module, self.matches) = (key, module, matches) }
    var testDescription: String { "\(key) \(matches ? "~" : "!~") \(module)" }
}

/// One invalid config and the exact error it must produce.
struct BadConfig: CustomTestStringConvertible, Sendable {
    let label: String
    let json: String
    let error: AdapterError
    let mentions: String
    init(_ label: String, _ json: String, _ error: AdapterError, mentions: String) {
        (self.label, self.json, self.error, self.mentions) = (label, json, error, mentions)
    }
    var testDescription: String { label }
}

@Suite("PEFT adapter_config.json")
struct PEFTConfigTests {
    static func config(_ json: String) throws -> PEFTConfig { try PEFTConfig(json: Data(json.utf8)) }

    // MARK: Scales

    /// (r, lora_alpha, use_rslora, expected scale): alpha/r, or alpha/√r with rsLoRA, as literals.
    @Test("scale is alpha/r, or alpha/√r with rsLoRA",
          arguments: [(16, 32.0, false, 2.0), (16, 32.0, true, 8.0), (8, 16.0, true, 5.656854249492381),
                      (64, 16.0, false, 0.25), (1, 3.0, true, 3.0), (4, 1.0, false, 0.25)])
    func scale(r: Int, alpha: Double, rslora: Bool, expected: Double) throws {
        let c = try Self.config(#"{"peft_type": "LORA", "r": \#(r), "lora_alpha": \#(alpha), "use_rslora": \#(rslora)}"#)
        #expect(c.rank == r && c.alpha == alpha && c.useRSLoRA == rslora)
        let s = c.scale(for: "model.layers.0.self_attn.q_proj", rank: r)
        #expect(abs(s - expected) <= 1e-15 * expected, "scale \(s), expected \(expected)")
    }

    @Test("lora_alpha missing takes PEFT's default of 8")
    func defaultAlpha() throws {
        let c = try Self.config(#"{"r": 4}"#)
        #expect(c.alpha == 8)
        #expect(c.scale(for: "x", rank: 4) == 2)
    }

    @Test("rank_pattern and alpha_pattern give a module its own rank, alpha and scale")
    func patternScales() throws {
        let json = #"""
        {"r": 16, "lora_alpha": 32, "rank_pattern": {"v_proj": 4}, "alpha_pattern": {"v_proj": 2, "layers.1.self_attn.q_proj": 64}}
        """#
        let c = try Self.config(json)
        let v = "model.layers.0.self_attn.v_proj", q0 = "model.layers.0.self_attn.q_proj", q1 = "model.layers.1.self_attn.q_proj"
        #expect(c.rank(for: v) == 4 && c.alpha(for: v) == 2)
        #expect(c.scale(for: v, rank: c.rank(for: v)) == 0.5)          // 2 / 4
        #expect(c.rank(for: q0) == 16 && c.alpha(for: q0) == 32)
        #expect(c.scale(for: q0, rank: 16) == 2)                        // 32 / 16
        #expect(c.rank(for: q1) == 16 && c.alpha(for: q1) == 64)
        #expect(c.scale(for: q1, rank: 16) == 4)                        // 64 / 16 (alpha pattern alone)

        var fields = c.fields
        fields["use_rslora"] = .bool(true)
        let rs = try PEFTConfig(fields: fields)
        #expect(rs.scale(for: v, rank: 4) == 1)                         // 2 / √4
        #expect(rs.scale(for: q1, rank: 16) == 16)                      // 64 / √16
    }

    // MARK: Pattern keys

    static let patternCases: [PatternCase] = [
        PatternCase("q_proj", "model.layers.0.self_attn.q_proj", true),
        PatternCase("q_proj", "q_proj", true),
        PatternCase("q_proj", "model.layers.0.self_attn.xq_proj", false),
        PatternCase("proj", "model.layers.0.self_attn.q_proj", false),
        PatternCase("q_proj", "model.layers.0.self_attn.q_proj.base", false),
        PatternCase("self_attn.q_proj", "model.layers.0.self_attn.q_proj", true),
        PatternCase("layers.1.mlp.up_proj", "model.layers.1.mlp.up_proj", true),
        PatternCase("layers.1.mlp.up_proj", "model.layers.11.mlp.up_proj", false),
        PatternCase("layers.1.mlp.up_proj", "layers.11.mlp.up_proj", false),
        PatternCase("layers.1.mlp.up_proj", "layers.1.mlp.up_proj", true),
        PatternCase("layers.1.mlp.up_proj", "model.xlayers.1.mlp.up_proj", false),
        PatternCase("layers.1.mlp.up_proj", "model.layers.1.mlp.up_proj_2", false),
        // PEFT's keys are regular expressions, so a "." in a dotted key matches any character there.
        PatternCase("layers.1.mlp.up_proj", "model.layers.1xmlp.up_proj", true),
        PatternCase(#"layers\.[01]\.self_attn\.(q|v)_proj"#, "model.layers.1.self_attn.v_proj", true),
        PatternCase(#"layers\.[01]\.self_attn\.(q|v)_proj"#, "model.layers.2.self_attn.v_proj", false),
        PatternCase(#"layers\.[01]\.self_attn\.(q|v)_proj"#, "model.layers.0.self_attn.k_proj", false),
        PatternCase(#"mlp\.fc\d"#, "model.vision_tower.vision_model.encoder.layers.0.mlp.fc2", true),
        PatternCase(#".*vision_tower.*"#, "model.vision_tower.vision_model.encoder.layers.0.mlp.fc1", true),
        PatternCase(#".*vision_tower.*"#, "model.language_model.layers.0.mlp.up_proj", false),
        PatternCase("q|v", "encoder.block.0.layer.0.SelfAttention.v", true),
        PatternCase("q|v", "encoder.block.0.layer.0.SelfAttention.k", false),
        PatternCase("wi_0", "decoder.block.0.layer.2.DenseReluDense.wi_0", true),
    ]

    /// PEFT's rule evaluated by a different regex engine (ICU, via NSRegularExpression) on the literal
    /// pattern `^(.*\.)?(KEY)$`: the table's expectations are checked against it too.
    static func peftMatches(key: String, module: String) throws -> Bool {
        let regex = try NSRegularExpression(pattern: #"^(.*\.)?("# + key + #")$"#)
        return regex.firstMatch(in: module, range: NSRange(module.startIndex..., in: module)) != nil
    }

    @Test("rank_pattern and alpha_pattern keys match by PEFT's dotted-suffix rule", arguments: patternCases)
    func patternKey(_ c: PatternCase) throws {
        #expect(try Self.peftMatches(key: c.key, module: c.module) == c.matches, "the table disagrees with PEFT's regex")
        let fields: [String: JSONValue] = ["r": .number(16), "lora_alpha": .number(32),
                                           "rank_pattern": .object([c.key: .number(4)]),
                                           "alpha_pattern": .object([c.key: .number(1.5)])]
        let config = try PEFTConfig(fields: fields)
        #expect(config.rank(for: c.module) == (c.matches ? 4 : 16))
        #expect(config.alpha(for: c.module) == (c.matches ? 1.5 : 32))
    }

    @Test("overlapping keys: the longest (most specific) key wins")
    func overlappingKeys() throws {
        let c = try Self.config(#"{"r": 16, "rank_pattern": {"q_proj": 4, "layers.0.self_attn.q_proj": 2}}"#)
        #expect(c.rank(for: "model.layers.0.self_attn.q_proj") == 2)
        #expect(c.rank(for: "model.layers.1.self_attn.q_proj") == 4)
        #expect(c.rank(for: "model.layers.0.self_attn.k_proj") == 16)
    }

    // MARK: Round trips

    static let withUnknownFields = #"""
    {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "google/gemma-3-4b-pt",
     "r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "use_rslora": true,
     "rank_pattern": {"v_proj": 4}, "alpha_pattern": {"v_proj": 8},
     "target_modules": ["q_proj", "v_proj"], "layers_to_transform": [0, 1],
     "custom_field": {"nested": [1, "x", null, true, 2.5]}, "revision": null, "megatron_core": "megatron.core"}
    """#

    @Test("uniform(rank:): r = lora_alpha = R, empty patterns, rsLoRA off, so every scale is 1")
    func uniform() throws {
        let c = try Self.config(Self.withUnknownFields)
        let u = c.uniform(rank: 8)
        #expect(u.rank == 8 && u.alpha == 8)
        #expect(u.rankPattern.isEmpty && u.alphaPattern.isEmpty)
        #expect(!u.useRSLoRA)
        #expect(u.fields["rank_pattern"] == .object([:]) && u.fields["alpha_pattern"] == .object([:]))
        #expect(u.fields["use_rslora"] == .bool(false))
        for module in ["model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.q_proj"] {
            #expect(u.rank(for: module) == 8)
            #expect(u.scale(for: module, rank: 8) == 1)
        }
        // Every other field is the original's.
        for (key, value) in c.fields where !["r", "lora_alpha", "rank_pattern", "alpha_pattern", "use_rslora"].contains(key) {
            #expect(u.fields[key] == value, "field \(key) changed")
        }
        #expect(Set(u.fields.keys) == Set(c.fields.keys))
    }

    @Test("unknown fields survive uniform(rank:) and encoded(), integers stay integers")
    func unknownFieldsSurviveEncoding() throws {
        let original = try Self.config(Self.withUnknownFields)
        let text = original.uniform(rank: 8).encoded()
        // Parsed by Foundation's own JSON reader, not by JSONValue.
        let object = try #require(try JSONSerialization.jsonObject(with: text) as? [String: Any])
        #expect(object["r"] as? Int == 8)
        #expect(object["lora_alpha"] as? Int == 8)
        #expect(object["use_rslora"] as? Bool == false)
        #expect(object["lora_dropout"] as? Double == 0.05)
        #expect(object["megatron_core"] as? String == "megatron.core")
        #expect(object["revision"] is NSNull)
        #expect(object["layers_to_transform"] as? [Int] == [0, 1])
        let nested = try #require((object["custom_field"] as? [String: Any])?["nested"] as? [Any])
        #expect(nested.count == 5)
        #expect(nested[0] as? Int == 1 && nested[1] as? String == "x" && nested[2] is NSNull)
        #expect(nested[3] as? Bool == true && nested[4] as? Double == 2.5)
        let string = String(decoding: text, as: UTF8.self)
        #expect(string.contains(#""r" : 8,"#) && !string.contains("8.0"), "integers must be written as integers:\n\(string)")
        // And the encoded config parses back to the same fields.
        #expect(try PEFTConfig(json: text) == original.uniform(rank: 8))
        #expect(try PEFTConfig(json: original.encoded()) == original)
    }

    @Test("perModule(ranks:base:) names every module of another rank, each with scale 1")
    func perModule() throws {
        let c = try Self.config(Self.withUnknownFields)
        let ranks = ["model.layers.0.self_attn.q_proj": 8, "model.layers.0.self_attn.v_proj": 3,
                     "model.layers.1.self_attn.q_proj": 8, "model.layers.1.self_attn.v_proj": 5]
        let p = try c.perModule(ranks: ranks, base: 8)
        #expect(p.rank == 8 && p.alpha == 8 && !p.useRSLoRA)
        #expect(p.fields["rank_pattern"] == .object(["model.layers.0.self_attn.v_proj": .number(3),
                                                     "model.layers.1.self_attn.v_proj": .number(5)]))
        #expect(p.fields["alpha_pattern"] == p.fields["rank_pattern"])
        for (module, r) in ranks {
            #expect(p.rank(for: module) == r)
            #expect(p.scale(for: module, rank: r) == 1)
        }
        #expect(p.fields["custom_field"] == c.fields["custom_field"])
    }

    @Test("JSONValue: integers are not booleans, booleans are not numbers")
    func jsonValueKinds() throws {
        let v = try JSONDecoder().decode(JSONValue.self, from: Data(#"[1, 0, true, false, 1.5, -0.0, 1e300, "1"]"#.utf8))
        #expect(v == .array([.number(1), .number(0), .bool(true), .bool(false), .number(1.5), .number(-0.0),
                             .number(1e300), .string("1")]))
        #expect(JSONValue.number(16).intValue == 16)
        #expect(JSONValue.number(1.5).intValue == nil)
        #expect(JSONValue.number(1e300).intValue == nil)
        #expect(JSONValue.string("16").intValue == nil)
        #expect(JSONValue.bool(true).intValue == nil)
    }

    // MARK: Invalid configs

    static let unsupportedLOHA = AdapterError.unsupported(
        #"adapter_config.json: peft_type "LOHA" is not supported; only LORA adapters can be squeezed"#)
    static let unsupportedDoRA = AdapterError.unsupported(
        "adapter_config.json: use_dora is true; a DoRA adapter's magnitude vector depends on the base weights, so it cannot be squeezed without them")

    static let badConfigs: [BadConfig] = [
        BadConfig("r missing", #"{"lora_alpha": 16}"#, .invalidConfig(field: "r", reason: "is missing"), mentions: "\"r\""),
        BadConfig("r = 0", #"{"r": 0}"#, .invalidConfig(field: "r", reason: "must be a positive integer"), mentions: "\"r\""),
        BadConfig("r = -1", #"{"r": -1}"#, .invalidConfig(field: "r", reason: "must be a positive integer"), mentions: "\"r\""),
        BadConfig("r = \"16\"", #"{"r": "16"}"#, .invalidConfig(field: "r", reason: "must be a positive integer"), mentions: "\"r\""),
        BadConfig("r = 1.5", #"{"r": 1.5}"#, .invalidConfig(field: "r", reason: "must be a positive integer"), mentions: "\"r\""),
        BadConfig("r = true", #"{"r": true}"#, .invalidConfig(field: "r", reason: "must be a positive integer"), mentions: "\"r\""),
        BadConfig("r = null", #"{"r": null}"#, .invalidConfig(field: "r", reason: "must be a positive integer"), mentions: "\"r\""),
        BadConfig("lora_alpha a string", #"{"r": 8, "lora_alpha": "sixteen"}"#,
                  .invalidConfig(field: "lora_alpha", reason: "must be a finite number"), mentions: "lora_alpha"),
        BadConfig("lora_alpha a list", #"{"r": 8, "lora_alpha": [16]}"#,
                  .invalidConfig(field: "lora_alpha", reason: "must be a finite number"), mentions: "lora_alpha"),
        BadConfig("rank_pattern value 0", #"{"r": 8, "rank_pattern": {"q_proj": 0}}"#,
                  .invalidConfig(field: "rank_pattern.q_proj", reason: "must be a positive integer"), mentions: "rank_pattern.q_proj"),
        BadConfig("rank_pattern value 2.5", #"{"r": 8, "rank_pattern": {"q_proj": 2.5}}"#,
                  .invalidConfig(field: "rank_pattern.q_proj", reason: "must be a positive integer"), mentions: "rank_pattern.q_proj"),
        BadConfig("rank_pattern a list", #"{"r": 8, "rank_pattern": ["q_proj"]}"#,
                  .invalidConfig(field: "rank_pattern", reason: "must be an object"), mentions: "rank_pattern"),
        BadConfig("alpha_pattern value a string", #"{"r": 8, "alpha_pattern": {"v_proj": "x"}}"#,
                  .invalidConfig(field: "alpha_pattern.v_proj", reason: "must be a finite number"), mentions: "alpha_pattern.v_proj"),
        BadConfig("use_rslora a string", #"{"r": 8, "use_rslora": "yes"}"#,
                  .invalidConfig(field: "use_rslora", reason: "must be true or false"), mentions: "use_rslora"),
        BadConfig("peft_type a number", #"{"r": 8, "peft_type": 3}"#,
                  .invalidConfig(field: "peft_type", reason: "must be a string"), mentions: "peft_type"),
        BadConfig("peft_type LOHA", #"{"r": 8, "peft_type": "LOHA"}"#, unsupportedLOHA, mentions: "LOHA"),
        BadConfig("use_dora true", #"{"r": 8, "peft_type": "LORA", "use_dora": true}"#, unsupportedDoRA, mentions: "use_dora"),
        BadConfig("a JSON list", #"[{"r": 8}]"#, .invalidConfig(field: "(document)", reason: "must be a JSON object"),
                  mentions: "JSON object"),
        BadConfig("not JSON", #"{"r": 8"#, .invalidConfig(field: "(document)", reason: "is not valid JSON at offset 7: expected ',' or '}' after an object member"), mentions: "offset 7"),
    ]

    @Test("invalid configs give the exact error naming the field", arguments: badConfigs)
    func invalid(_ bad: BadConfig) {
        #expect(throws: bad.error) { try Self.config(bad.json) }
        #expect(bad.error.description.contains(bad.mentions), "\(bad.error.description)")
    }

    @Test("peft_type is compared case-insensitively; absent or null is accepted")
    func peftTypeSpelling() throws {
        #expect(try Self.config(#"{"r": 8, "peft_type": "lora"}"#).peftType == "lora")
        #expect(try Self.config(#"{"r": 8, "peft_type": null}"#).rank == 8)
        #expect(try Self.config(#"{"r": 8}"#).rank == 8)
        #expect(try Self.config(#"{"r": 8, "use_dora": false}"#).useDoRA == false)
    }
}
