import AdapterFormats
import Foundation
import TestSupport

/// Small adapters for the CLI: a PEFT one at mixed ranks and a kohya one with a conv layer.
enum CLIFixture {
    typealias Module = AdapterFixture.Module
    static let modules = [Module("model.language_model.layers.0.self_attn.q_proj", out: 32, in: 24, rank: 16),
                          Module("model.language_model.layers.0.self_attn.v_proj", out: 8, in: 24, rank: 4),
                          Module("model.language_model.layers.0.mlp.down_proj", out: 24, in: 48, rank: 16),
                          Module("model.vision_tower.vision_model.encoder.layers.0.mlp.fc1", out: 40, in: 20, rank: 12)]

    static func peft(in dir: URL, dtype: DType = .f32) throws -> URL {
        try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: modules, rank: 16, alpha: 32,
                                    rankPattern: ["v_proj": 4, "fc1": 12], alphaPattern: ["fc1": 24], dtype: dtype)
    }

    static func kohya(in dir: URL) throws -> URL {
        try AdapterFixture.makeKohya(at: dir.appendingPathComponent("style_v2.safetensors"), rank: 8, alpha: 4)
    }

    /// Every regular file under `dir`, relative path → bytes.
    static func files(under dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            out[name] = try Data(contentsOf: dir.appendingPathComponent(name))
        }
        return out
    }
}
