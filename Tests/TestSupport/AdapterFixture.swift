import AdapterFormats
import Foundation

/// Writes small adapters in PEFT and kohya layouts, named and shaped like real model families.
public enum AdapterFixture {
    /// One module of a fixture: its path (without `base_model.model.`), shape and rank.
    public struct Module: Sendable {
        public var name: String
        public var out: Int
        public var inFeatures: Int
        public var rank: Int
        public var embedding: Bool = false
        public init(_ name: String, out: Int, in inFeatures: Int, rank: Int, embedding: Bool = false) {
            self.name = name
            self.out = out
            self.inFeatures = inFeatures
            self.rank = rank
            self.embedding = embedding
        }
    }

    /// A fresh empty temporary directory.
    public static func temporaryDirectory(_ label: String = "fixture") -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("lora-squeeze-\(label)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes a PEFT adapter directory. `config` entries override the defaults (r, lora_alpha, …).
    /// Returns the directory.
    @discardableResult
    public static func makePEFT(at dir: URL, modules: [Module], rank: Int, alpha: Double,
                                rankPattern: [String: Int] = [:], alphaPattern: [String: Double] = [:],
                                rslora: Bool = false, dtype: DType = .f32, seed: UInt64 = 1,
                                extraTensors: [TensorToWrite] = [], config extra: [String: JSONValue] = [:],
                                tensorSuffix: String = "") throws -> URL {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var tensors: [TensorToWrite] = []
        for (i, m) in modules.enumerated() {
            let (a, b) = LoRAFactorsFixture.make(out: m.out, in: m.inFeatures, rank: m.rank, seed: seed &+ UInt64(i))
            let key = "base_model.model." + m.name
            let (an, bn) = m.embedding
                ? (key + ".lora_embedding_A" + tensorSuffix, key + ".lora_embedding_B" + tensorSuffix)
                : (key + ".lora_A" + tensorSuffix + ".weight", key + ".lora_B" + tensorSuffix + ".weight")
            tensors.append(try .floats(a, name: an, shape: [m.rank, m.inFeatures], dtype: dtype))
            tensors.append(try .floats(b, name: bn, shape: [m.out, m.rank], dtype: dtype))
        }
        tensors += extraTensors
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"],
                                    to: dir.appendingPathComponent(PEFTFiles.weights))
        var fields: [String: JSONValue] = [
            "peft_type": .string("LORA"), "task_type": .string("CAUSAL_LM"),
            "base_model_name_or_path": .string("fixture/model"),
            "r": .number(Double(rank)), "lora_alpha": .number(alpha), "lora_dropout": .number(0),
            "bias": .string("none"),
            "target_modules": .array(Array(Set(modules.map { String($0.name.split(separator: ".").last!) })).sorted().map { .string($0) }),
            "rank_pattern": .object(rankPattern.mapValues { .number(Double($0)) }),
            "alpha_pattern": .object(alphaPattern.mapValues { .number($0) }),
            "use_rslora": .bool(rslora), "use_dora": .bool(false), "fan_in_fan_out": .bool(false),
            "modules_to_save": .null, "inference_mode": .bool(true),
        ]
        for (k, v) in extra { fields[k] = v }
        try JSONValue.object(fields).encodedPretty().write(to: dir.appendingPathComponent(PEFTFiles.config))
        return dir
    }

    /// A kohya file: `lora_unet_…` linear modules and one conv module (down [r, in, 3, 3], up [out, r, 1, 1]).
    @discardableResult
    public static func makeKohya(at file: URL, rank: Int, alpha: Float, dtype: DType = .f16,
                                 seed: UInt64 = 7) throws -> URL {
        var tensors: [TensorToWrite] = []
        let linear = [("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", 40, 40),
                      ("lora_te_text_model_encoder_layers_0_mlp_fc1", 64, 32)]
        for (i, (key, out, inF)) in linear.enumerated() {
            let (a, b) = LoRAFactorsFixture.make(out: out, in: inF, rank: rank, seed: seed &+ UInt64(i))
            tensors.append(try .floats(a, name: key + ".lora_down.weight", shape: [rank, inF], dtype: dtype))
            tensors.append(try .floats(b, name: key + ".lora_up.weight", shape: [out, rank], dtype: dtype))
            tensors.append(try .floats([alpha], name: key + ".alpha", shape: [], dtype: dtype))
        }
        let conv = "lora_unet_down_blocks_0_resnets_0_conv1"
        let (ca, cb) = LoRAFactorsFixture.make(out: 24, in: 8 * 9, rank: rank, seed: seed &+ 99)
        tensors.append(try .floats(ca, name: conv + ".lora_down.weight", shape: [rank, 8, 3, 3], dtype: dtype))
        tensors.append(try .floats(cb, name: conv + ".lora_up.weight", shape: [24, rank, 1, 1], dtype: dtype))
        tensors.append(try .floats([alpha], name: conv + ".alpha", shape: [], dtype: dtype))
        try SafetensorsWriter.write(tensors, metadata: ["ss_network_dim": String(rank), "ss_network_alpha": String(alpha),
                                                        "ss_network_module": "networks.lora"], to: file)
        return file
    }
}
