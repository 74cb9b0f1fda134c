import Foundation
import Testing
import TestSupport
@testable import AdapterFormats

/// `AdapterLimits`, each at its bound and one past, through the same entry points uploads use.
@Suite("adapter limits: at the bound accepted, one past refused")
struct AdapterLimitsTests {
    /// An in-memory PEFT adapter with `count` small modules named `model.layers.<i>.q_proj`.
    static func peft(modules count: Int, rank: Int = 2, config extra: [String: JSONValue] = [:],
                     limits: AdapterLimits) throws -> LoRAAdapter {
        var tensors: [TensorToWrite] = []
        for i in 0..<count {
            tensors += try AdapterFixture.peftFactors(.init("model.layers.\(i).q_proj", out: 3, in: 2, rank: rank), seed: UInt64(i))
        }
        var fields = AdapterFixture.peftConfig(rank: rank, alpha: 4)
        for (k, v) in extra { fields[k] = v }
        let config = try PEFTConfig(fields: fields, limits: limits)
        return try LoRAAdapter.peft(config: config, weights: try SafetensorsFile(bytes: try SafetensorsWriter.encode(tensors)),
                                    limits: limits)
    }

    static func kohya(modules count: Int, rank: Int = 2, limits: AdapterLimits) throws -> LoRAAdapter {
        var tensors: [TensorToWrite] = []
        for i in 0..<count {
            let key = "lora_unet_block_\(i)_proj"
            tensors.append(try .floats([Float](repeating: 0.5, count: rank * 2), name: key + ".lora_down.weight", shape: [rank, 2], dtype: .f32))
            tensors.append(try .floats([Float](repeating: 0.5, count: 3 * rank), name: key + ".lora_up.weight", shape: [3, rank], dtype: .f32))
        }
        return try LoRAAdapter.kohya(weights: try SafetensorsFile(bytes: try SafetensorsWriter.encode(tensors)), limits: limits)
    }

    @Test("maxModules, PEFT and kohya")
    func modules() throws {
        var limits = AdapterLimits()
        limits.maxModules = 5
        #expect(try Self.peft(modules: 5, limits: limits).modules.count == 5)
        #expect(throws: AdapterError.tooManyModules(limit: 5)) { _ = try Self.peft(modules: 6, limits: limits) }
        #expect(try Self.kohya(modules: 5, limits: limits).modules.count == 5)
        #expect(throws: AdapterError.tooManyModules(limit: 5)) { _ = try Self.kohya(modules: 6, limits: limits) }
    }

    @Test("maxRank, PEFT and kohya: a module of rank r builds r×r matrices, so r is bounded from the header")
    func rank() throws {
        var limits = AdapterLimits()
        limits.maxRank = 6
        #expect(try Self.peft(modules: 1, rank: 6, limits: limits).modules[0].rank == 6)
        #expect(throws: AdapterError.rankTooLarge(tensor: "base_model.model.model.layers.0.q_proj.lora_A.weight", rank: 7, limit: 6)) {
            _ = try Self.peft(modules: 1, rank: 7, limits: limits)
        }
        #expect(try Self.kohya(modules: 1, rank: 6, limits: limits).modules[0].rank == 6)
        #expect(throws: AdapterError.rankTooLarge(tensor: "lora_unet_block_0_proj.lora_down.weight", rank: 7, limit: 6)) {
            _ = try Self.kohya(modules: 1, rank: 7, limits: limits)
        }
    }

    @Test("maxPatternKeys and maxPatternKeyBytes, for rank_pattern and alpha_pattern", arguments: ["rank_pattern", "alpha_pattern"])
    func patternKeys(_ field: String) throws {
        var limits = AdapterLimits()
        limits.maxPatternKeys = 3
        limits.maxPatternKeyBytes = 10
        func config(_ keys: [String]) throws -> PEFTConfig {
            var fields = AdapterFixture.peftConfig(rank: 2, alpha: 4)
            fields[field] = .object(Dictionary(uniqueKeysWithValues: keys.map { ($0, JSONValue.number(2)) }))
            return try PEFTConfig(fields: fields, limits: limits)
        }
        _ = try config(["a", "b", "c"])
        #expect(throws: AdapterError.invalidConfig(field: field, reason: "has 4 keys; at most 3 are accepted")) { _ = try config(["a", "b", "c", "d"]) }
        _ = try config([String(repeating: "k", count: 10)])
        let long = String(repeating: "k", count: 11)
        #expect(throws: AdapterError.invalidConfig(field: "\(field).\(long)", reason: "is a key of 11 bytes; at most 10 are accepted")) {
            _ = try config([long])
        }
    }

    @Test("a key that is not a supported regular expression names the field and the construct")
    func badRegex() throws {
        var fields = AdapterFixture.peftConfig(rank: 2, alpha: 4)
        fields["rank_pattern"] = .object(["q(?=_proj)": .number(2)])
        do {
            _ = try PEFTConfig(fields: fields)
            Issue.record("a lookahead was accepted")
        } catch let AdapterError.invalidConfig(field, reason) {
            #expect(field == "rank_pattern.q(?=_proj)")
            #expect(reason.contains("lookahead") && reason.contains("not supported"))
        }
    }

    @Test("maxPatternWork is bounded from the keys and names before any matching, at the bound and one past")
    func patternWork() throws {
        // Ten modules, one regex key: the bound is computed, then set exactly at it and one below.
        let extra: [String: JSONValue] = ["alpha_pattern": .object(["layers\\.[0-9]+\\.q_proj": .number(8)])]
        let probe = try Self.peft(modules: 10, config: extra, limits: AdapterLimits())
        let names = probe.modules.map(\.name)
        let work = try #require(probe.peftConfig).patternWork(modules: names)
        #expect(work > 0)
        var limits = AdapterLimits()
        limits.maxPatternWork = work
        let adapter = try Self.peft(modules: 10, config: extra, limits: limits)
        #expect(adapter.modules.allSatisfy { $0.alpha == 8 })
        limits.maxPatternWork = work - 1
        #expect(throws: AdapterError.patternsTooCostly(modules: 10, work: work, limit: work - 1)) {
            _ = try Self.peft(modules: 10, config: extra, limits: limits)
        }
    }
}
