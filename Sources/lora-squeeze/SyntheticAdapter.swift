import AdapterFormats
import Foundation

/// Writes PEFT adapters of random factors with a trained-like decaying spectrum, for `demo` and
/// `bench` (which must not depend on anything outside the binary).
struct SyntheticAdapter {
    struct Module {
        let name: String
        let out: Int
        let inFeatures: Int
        let rank: Int
    }

    let modules: [Module]
    let rank: Int
    let alpha: Double
    var rankPattern: [String: Int] = [:]
    var baseModel = "synthetic"

    /// Gemma-2B's language model (PaliGemma's LM): 18 layers × q, k, v, o, gate, up, down.
    static func gemma2B(layers: Int = 18, rank: Int) -> SyntheticAdapter {
        let shapes: [(String, Int, Int)] = [
            ("self_attn.q_proj", 2048, 2048), ("self_attn.k_proj", 256, 2048), ("self_attn.v_proj", 256, 2048),
            ("self_attn.o_proj", 2048, 2048), ("mlp.gate_proj", 16384, 2048), ("mlp.up_proj", 16384, 2048),
            ("mlp.down_proj", 2048, 16384)]
        let mods = (0..<layers).flatMap { i in
            shapes.map { Module(name: "model.language_model.layers.\(i).\($0.0)", out: $0.1, inFeatures: $0.2, rank: rank) }
        }
        var a = SyntheticAdapter(modules: mods, rank: rank, alpha: Double(2 * rank))
        a.baseModel = "google/paligemma-3b-pt-224"
        return a
    }

    /// A small PaliGemma-shaped adapter with mixed ranks (a rank_pattern), for `demo`.
    static func demo() -> SyntheticAdapter {
        var mods: [Module] = []
        for i in 0..<2 {
            let p = "model.language_model.layers.\(i)."
            mods += [Module(name: p + "self_attn.q_proj", out: 256, inFeatures: 256, rank: 32),
                     Module(name: p + "self_attn.v_proj", out: 64, inFeatures: 256, rank: 32),
                     Module(name: p + "mlp.down_proj", out: 256, inFeatures: 1024, rank: 32)]
            let v = "model.vision_tower.vision_model.encoder.layers.\(i)."
            mods += [Module(name: v + "self_attn.q_proj", out: 144, inFeatures: 144, rank: 16),
                     Module(name: v + "mlp.fc1", out: 512, inFeatures: 144, rank: 16)]
        }
        var a = SyntheticAdapter(modules: mods, rank: 32, alpha: 64)
        a.rankPattern = ["vision_tower.vision_model.encoder.layers.0.self_attn.q_proj": 16,
                         "vision_tower.vision_model.encoder.layers.1.self_attn.q_proj": 16,
                         "fc1": 16]
        a.baseModel = "google/paligemma-3b-pt-224"
        return a
    }

    var config: [String: JSONValue] {
        [
            "peft_type": .string("LORA"), "task_type": .string("CAUSAL_LM"),
            "base_model_name_or_path": .string(baseModel),
            "r": .number(Double(rank)), "lora_alpha": .number(alpha), "lora_dropout": .number(0),
            "bias": .string("none"),
            "target_modules": .array(Set(modules.map { String($0.name.split(separator: ".").last!) }).sorted().map { .string($0) }),
            "rank_pattern": .object(rankPattern.mapValues { .number(Double($0)) }),
            "alpha_pattern": .object([:]), "use_rslora": .bool(false), "use_dora": .bool(false),
            "fan_in_fan_out": .bool(false), "modules_to_save": .null, "inference_mode": .bool(true),
        ]
    }

    /// The weights file's bytes.
    func weights(dtype: DType, seed: UInt64 = 0) throws -> [UInt8] {
        var rng = FastUniform(seed: seed)
        var tensors: [TensorToWrite] = []
        for m in modules {
            // Rows of A decay like a trained adapter's spectrum (decay length 8 ranks, as make_adapter.py).
            var a = [Float](repeating: 0, count: m.rank * m.inFeatures)
            let norm = 1.7 / Float(m.inFeatures).squareRoot()
            for i in 0..<m.rank {
                let s = Float(exp(-Double(i) / 8)) * norm
                for j in 0..<m.inFeatures { a[i * m.inFeatures + j] = rng.next() * s }
            }
            var b = [Float](repeating: 0, count: m.out * m.rank)
            for i in 0..<b.count { b[i] = rng.next() * 0.035 }
            let key = LoRAAdapter.peftPrefix + m.name
            tensors.append(try .floats(a, name: key + ".lora_A.weight", shape: [m.rank, m.inFeatures], dtype: dtype))
            tensors.append(try .floats(b, name: key + ".lora_B.weight", shape: [m.out, m.rank], dtype: dtype))
        }
        return try SafetensorsWriter.encode(tensors, metadata: ["format": "pt"])
    }

    /// The adapter, in memory.
    func adapter(dtype: DType, seed: UInt64 = 0) throws -> LoRAAdapter {
        let file = try SafetensorsFile(bytes: try weights(dtype: dtype, seed: seed))
        return try LoRAAdapter.peft(config: try PEFTConfig(fields: config), weights: file)
    }

    /// Writes the adapter as a PEFT directory.
    func write(to dir: URL, dtype: DType, seed: UInt64 = 0) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try JSONValue.object(config).encodedPretty().write(to: dir.appendingPathComponent(PEFTFiles.config))
        try Data(try weights(dtype: dtype, seed: seed)).write(to: dir.appendingPathComponent(PEFTFiles.weights))
    }
}

/// Uniform values in [-1, 1) from xorshift64*: fast enough to fill 80 M floats for the benchmark.
struct FastUniform {
    private var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> Float {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        let bits = (state &* 0x2545_F491_4F6C_DD1D) >> 40   // 24 random bits
        return Float(bits) * 0x1p-23 - 1
    }
}
