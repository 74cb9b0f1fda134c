import Foundation
import Testing
@testable import AdapterFormats

/// The strict JSON reader behind `adapter_config.json`: what Python's `json` reads, read the same,
/// and what two readers would read differently, refused.
@Suite("JSON documents: strict, and the same as Python's json")
struct JSONValueParseTests {
    @Test("a PEFT config reads as Foundation reads it, trailing newline and all")
    func sameAsFoundation() throws {
        let text = """
            {"r": 16, "lora_alpha": 32.5, "target_modules": ["q_proj", "v_proj"], "rank_pattern": {},
             "use_rslora": false, "modules_to_save": null, "task_type": "CAUSAL_LM", "name": "caf\\u00e9 \\ud83d\\ude00",
             "nested": {"a": [1, -2.5e3, true]}}\n
            """
        let ours = try JSONValue.parse(Array(text.utf8))
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(ours == foundation)
        #expect(ours.objectValue?["name"] == .string("café 😀"))
    }

    @Test("a key twice is refused, naming it, at any depth", arguments: [
        (#"{"r": 8, "lora_alpha": 16, "lora_alpha": 32}"#, #""lora_alpha""#),
        (#"{"rank_pattern": {"q_proj": 4, "q_proj": 8}}"#, #""rank_pattern"."q_proj""#),
        (#"{"a": [{"b": 1, "b": 1}]}"#, #""a"[0]."b""#),
    ])
    func duplicateKeys(_ text: String, _ path: String) {
        #expect(throws: JSONParseError.duplicateKey(path: path)) { _ = try JSONValue.parse(Array(text.utf8)) }
    }

    @Test("the config reader refuses a duplicate key with a message a user can act on")
    func configDuplicate() {
        do {
            _ = try PEFTConfig(json: Data(#"{"r": 8, "lora_alpha": 16, "lora_alpha": 32}"#.utf8))
            Issue.record("accepted a config with lora_alpha twice")
        } catch {
            #expect("\(error)".contains("lora_alpha") && "\(error)".contains("twice"))
        }
    }

    @Test("malformed documents are refused with an offset", arguments: [
        "", "{", "{\"r\": 8,}", "[1 2]", "{\"r\": 08}", "{\"r\": .5}", "{'r': 8}", "{\"r\": NaN}", "{\"r\": tru}",
        "{} {}", "{}x", "\u{FEFF}{}", "{\"a\": \"\u{1}\"}", "{\"a\": \"\\x\"}", "nul",
    ])
    func malformed(_ text: String) {
        #expect(throws: JSONParseError.self) { _ = try JSONValue.parse(Array(text.utf8)) }
    }

    @Test("invalid UTF-8 is refused at its byte")
    func notUTF8() {
        #expect(throws: JSONParseError.notUTF8(offset: 7)) { _ = try JSONValue.parse(Array(#"{"a": ""#.utf8) + [0xFF] + Array(#""}"#.utf8)) }
    }

    @Test("nesting: at the limit read, one past refused, 100,000 deep refused without exhausting the stack")
    func depth() throws {
        func nested(_ n: Int) -> [UInt8] { Array((String(repeating: "[", count: n) + String(repeating: "]", count: n)).utf8) }
        _ = try JSONValue.parse(nested(JSONValue.maxDepth))
        #expect(throws: JSONParseError.tooDeep(limit: JSONValue.maxDepth)) { _ = try JSONValue.parse(nested(JSONValue.maxDepth + 1)) }
        #expect(throws: JSONParseError.tooDeep(limit: JSONValue.maxDepth)) { _ = try JSONValue.parse(nested(100_000)) }
    }

    @Test("literals and numbers: true/false/null; a number past a Double's range is refused, not read as ±Inf")
    func scalars() throws {
        #expect(try JSONValue.parse(Array("[true, false, null, 1.7976931348623157e308, -0.5e-320, 0]".utf8))
                == .array([.bool(true), .bool(false), .null, .number(.greatestFiniteMagnitude), .number(-0.5e-320), .number(0)]))
        for text in ["[1e400]", "[-1e400]", "{\"a\": {\"b\": 0.1e308001}}"] {
            #expect(throws: JSONParseError.self, "\(text)") { _ = try JSONValue.parse(Array(text.utf8)) }
        }
    }

    /// Fuzz finding (peft-config, Fuzz/README.md): an unknown nested field of 0.1e308001 was read as
    /// +Inf, which JSONEncoder cannot write, so the canonical config stored for the adapter was "{}".
    @Test("fuzz finding: an out-of-range number anywhere in a config is refused, never stored as an empty config")
    func outOfRangeNumberInConfig() throws {
        let text = #"{"peft_type": "LORA", "r": 8, "x": {"v_proj": 0.1e308001}}"#
        do {
            _ = try PEFTConfig(json: Data(text.utf8))
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("out of the range"), "\(error)")
        }
        // Built from fields (not parsed), a NaN or ±Inf is refused by path.
        #expect(throws: AdapterError.invalidConfig(field: "x.y[1]", reason: "is not a finite number")) {
            _ = try PEFTConfig(fields: ["r": .number(8), "x": .object(["y": .array([.number(1), .number(.nan)])])])
        }
        // And a valid config always encodes to itself.
        let valid = try PEFTConfig(json: Data(#"{"r": 8, "lora_dropout": 1e-300, "nested": {"big": 1.5e308}}"#.utf8))
        #expect(try PEFTConfig(json: valid.encoded()) == valid)
    }
}
