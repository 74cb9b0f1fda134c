import AdapterFormats
import Foundation

/// A tiny Gemma-shaped model directory (config.json, weights as one file or two shards with an
/// index, a tokenizer file), for merge and base-model tests.
public enum ModelFixture {
    public static let vocab = 48, hidden = 32, intermediate = 64, layers = 2, heads = 2, kvHeads = 1, headDim = 16

    /// Every tensor's name and shape, in the order a shard lists them, with the shard it goes to
    /// when sharded (0 or 1).
    public static var tensors: [(name: String, shape: [Int], shard: Int)] {
        var t: [(String, [Int], Int)] = [("model.embed_tokens.weight", [vocab, hidden], 0)]
        for l in 0..<layers {
            let p = "model.layers.\(l)."
            t += [(p + "self_attn.q_proj.weight", [heads * headDim, hidden], l),
                  (p + "self_attn.k_proj.weight", [kvHeads * headDim, hidden], l),
                  (p + "self_attn.v_proj.weight", [kvHeads * headDim, hidden], l),
                  (p + "self_attn.o_proj.weight", [hidden, heads * headDim], l),
                  (p + "mlp.gate_proj.weight", [intermediate, hidden], l),
                  (p + "mlp.up_proj.weight", [intermediate, hidden], l),
                  (p + "mlp.down_proj.weight", [hidden, intermediate], l),
                  (p + "input_layernorm.weight", [hidden], l),
                  (p + "post_attention_layernorm.weight", [hidden], l)]
        }
        t.append(("model.norm.weight", [hidden], 1))
        return t
    }

    public static let shardNames = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]

    public static let config: [UInt8] = Array("""
        {"architectures": ["GemmaForCausalLM"], "model_type": "gemma", "vocab_size": \(vocab), "hidden_size": \(hidden),
         "intermediate_size": \(intermediate), "num_hidden_layers": \(layers), "num_attention_heads": \(heads),
         "num_key_value_heads": \(kvHeads), "head_dim": \(headDim), "torch_dtype": "float32"}
        """.utf8)

    /// The adapter modules that fit this model: q_proj and v_proj of every layer (and, with
    /// `embedding`, the token embedding).
    public static func adapterModules(rank: Int, embedding: Bool = false) -> [AdapterFixture.Module] {
        var m: [AdapterFixture.Module] = []
        for l in 0..<layers {
            m.append(.init("model.layers.\(l).self_attn.q_proj", out: heads * headDim, in: hidden, rank: rank))
            m.append(.init("model.layers.\(l).self_attn.v_proj", out: kvHeads * headDim, in: hidden, rank: rank))
        }
        if embedding { m.append(.init("model.embed_tokens", out: hidden, in: vocab, rank: rank, embedding: true)) }
        return m
    }

    /// Writes the directory; returns its file names.
    @discardableResult
    public static func write(at dir: URL, dtype: DType = .f32, sharded: Bool = true, seed: UInt64 = 7) throws -> [String] {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var random = SeededRandom(seed: seed)
        var shards: [[TensorToWrite]] = [[], []]
        for t in tensors {
            let count = t.shape.reduce(1, *)
            shards[sharded ? t.shard : 0].append(try .floats(random.normals(count, scale: 0.5), name: t.name, shape: t.shape, dtype: dtype))
        }
        try Data(config).write(to: dir.appendingPathComponent("config.json"))
        try Data(#"{"version": "1.0", "model": {"type": "WordLevel"}}"#.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        var files = ["config.json", "tokenizer.json"]
        if sharded {
            var map: [String] = []
            for (i, s) in shards.enumerated() {
                try SafetensorsWriter.write(s, metadata: ["format": "pt"], to: dir.appendingPathComponent(shardNames[i]))
                map += s.map { "\"\($0.name)\": \"\(shardNames[i])\"" }
            }
            let total = shards.joined().reduce(0) { $0 + $1.bytes.count }
            try Data("{\"metadata\": {\"total_size\": \(total)}, \"weight_map\": {\(map.joined(separator: ", "))}}".utf8)
                .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
            files += shardNames + ["model.safetensors.index.json"]
        } else {
            try SafetensorsWriter.write(shards[0], metadata: ["format": "pt"], to: dir.appendingPathComponent("model.safetensors"))
            files.append("model.safetensors")
        }
        return files.sorted()
    }
}

extension ModelFixture {
    /// The weights a tuned fixture changes: q_proj and v_proj of layer 0, down_proj of layer 1.
    public static let tunedWeights = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.v_proj.weight",
                                      "model.layers.1.mlp.down_proj.weight"]

    /// A fine-tune of the model at `base`, written to `dir` in the same layout (and dtype): each of
    /// `tunedWeights` plus a known rank-`rank` update (decaying singular values, σ₁ = 1) plus Gaussian
    /// noise of standard deviation `noise`; every other tensor and file unchanged.
    public static func writeTuned(from base: URL, to dir: URL, rank: Int, noise: Float, seed: UInt64 = 9) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var random = SeededRandom(seed: seed)
        for name in try FileManager.default.contentsOfDirectory(atPath: base.path) {
            let source = base.appendingPathComponent(name)
            guard name.hasSuffix(".safetensors") else {
                try FileManager.default.copyItem(at: source, to: dir.appendingPathComponent(name))
                continue
            }
            let file = try SafetensorsFile(contentsOf: source)
            var tensors: [TensorToWrite] = []
            for t in file.tensors {
                guard tunedWeights.contains(t.name) else {
                    tensors.append(TensorToWrite(name: t.name, dtype: t.dtype, shape: t.shape, bytes: Array(file.rawBytes(of: t))))
                    continue
                }
                let (rows, columns) = (t.shape[0], t.shape[1])
                var w = try file.floats(t)
                let u = random.normals(rows * rank, scale: 1 / Float(rows).squareRoot())
                let v = random.normals(rank * columns, scale: 1 / Float(columns).squareRoot())
                for i in 0..<rows {
                    for j in 0..<columns {
                        var d: Float = 0
                        for k in 0..<rank { d += u[i * rank + k] * powf(0.5, Float(k)) * v[k * columns + j] }
                        w[i * columns + j] += d + random.normal() * noise
                    }
                }
                tensors.append(try .floats(w, name: t.name, shape: t.shape, dtype: t.dtype))
            }
            try SafetensorsWriter.write(tensors, metadata: file.header.metadata, to: dir.appendingPathComponent(name))
        }
    }
}
