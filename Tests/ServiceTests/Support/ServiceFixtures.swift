import AdapterFormats
import Foundation
import TestSupport

/// A PEFT adapter's two files as bytes, ready to upload.
struct PEFTUpload: Sendable {
    let config: [UInt8]
    let weights: [UInt8]

    /// The adapter read back from these bytes, for reference arithmetic.
    func adapter() throws -> LoRAAdapter {
        try LoRAAdapter.peft(config: try PEFTConfig(json: Data(config)), weights: try SafetensorsFile(bytes: weights))
    }
}

/// Small adapters for the end-to-end tests: a few modules each, so a squeeze takes milliseconds.
enum ServiceFixtures {
    typealias Module = AdapterFixture.Module

    /// Four linear modules of rank 8 with different shapes (out ≠ in, one wider than tall).
    static let modules = [Module("model.layers.0.self_attn.q_proj", out: 24, in: 32, rank: 8),
                          Module("model.layers.0.self_attn.v_proj", out: 16, in: 32, rank: 8),
                          Module("model.layers.1.self_attn.q_proj", out: 24, in: 32, rank: 8),
                          Module("model.layers.1.mlp.down_proj", out: 32, in: 40, rank: 8)]

    /// Mixed ranks and scales through rank_pattern/alpha_pattern, and an embedding: q_proj r 8 (scale
    /// 16/8 = 2), v_proj r 4 (alpha 8: scale 2), down_proj r 12 (alpha 6: scale 0.5), embed_tokens r 8.
    static let mixedModules = [Module("model.layers.0.self_attn.q_proj", out: 24, in: 32, rank: 8),
                               Module("model.layers.0.self_attn.v_proj", out: 16, in: 32, rank: 4),
                               Module("model.layers.0.mlp.down_proj", out: 32, in: 40, rank: 12),
                               Module("model.embed_tokens", out: 16, in: 50, rank: 8, embedding: true)]
    static let mixedRankPattern = ["v_proj": 4, "down_proj": 12]
    static let mixedAlphaPattern = ["v_proj": 8.0, "down_proj": 6]

    static func mixed(seed: UInt64) throws -> PEFTUpload {
        try peft(seed: seed, modules: mixedModules, rank: 8, alpha: 16, rankPattern: mixedRankPattern, alphaPattern: mixedAlphaPattern)
    }

    /// A PEFT adapter written by `AdapterFixture.makePEFT` (alpha 16 at r 8: scale 2), read back as bytes.
    /// Different seeds give different weights, hence different digests.
    static func peft(seed: UInt64 = 1, modules: [Module] = modules, rank: Int = 8, alpha: Double = 16,
                     rankPattern: [String: Int] = [:], alphaPattern: [String: Double] = [:],
                     config: [String: JSONValue] = [:]) throws -> PEFTUpload {
        let dir = AdapterFixture.temporaryDirectory("service-peft")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir, modules: modules, rank: rank, alpha: alpha, rankPattern: rankPattern,
                                    alphaPattern: alphaPattern, seed: seed, config: config)
        return PEFTUpload(config: Array(try Data(contentsOf: dir.appendingPathComponent(PEFTFiles.config))),
                          weights: Array(try Data(contentsOf: dir.appendingPathComponent(PEFTFiles.weights))))
    }

    /// A PEFT adapter from explicit tensors and config fields (for broken ones).
    static func peft(tensors: [TensorToWrite], config: [String: JSONValue]) throws -> PEFTUpload {
        let dir = AdapterFixture.temporaryDirectory("service-peft")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.writePEFT(at: dir, tensors: tensors, config: config)
        return PEFTUpload(config: Array(try Data(contentsOf: dir.appendingPathComponent(PEFTFiles.config))),
                          weights: Array(try Data(contentsOf: dir.appendingPathComponent(PEFTFiles.weights))))
    }

    /// A kohya file (two linear modules and a 3×3 conv, F16) as bytes.
    static func kohya(seed: UInt64 = 7, rank: Int = 8, alpha: Float = 4) throws -> [UInt8] {
        let dir = AdapterFixture.temporaryDirectory("service-kohya")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("lora.safetensors")
        try AdapterFixture.makeKohya(at: file, rank: rank, alpha: alpha, seed: seed)
        return Array(try Data(contentsOf: file))
    }

    /// A config's JSON text as fields.
    static func fields(_ config: [UInt8]) throws -> [String: JSONValue] {
        guard let object = try JSONDecoder().decode(JSONValue.self, from: Data(config)).objectValue else {
            throw AdapterError.invalidConfig(field: "(document)", reason: "not an object")
        }
        return object
    }
}
