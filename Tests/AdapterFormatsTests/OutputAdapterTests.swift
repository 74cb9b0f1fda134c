import Foundation
import Testing
@testable import AdapterFormats
import TestSupport

@Suite("Writing squeezed adapters")
struct OutputAdapterTests {
    typealias Module = AdapterFixture.Module
    static let prefix = LoRAAdapter.peftPrefix
    static let modules = [Module("model.layers.0.self_attn.q_proj", out: 12, in: 10, rank: 4),
                          Module("model.layers.0.self_attn.v_proj", out: 6, in: 10, rank: 2),
                          Module("model.embed_tokens", out: 8, in: 30, rank: 4, embedding: true)]

    /// Random replacement factors of the given ranks for `adapter`'s modules.
    static func replacements(for adapter: LoRAAdapter, ranks: [Int], seed: UInt64 = 3) -> [ReplacementFactors] {
        var rng = SeededRandom(seed: seed)
        return zip(adapter.modules, ranks).map { m, r in
            ReplacementFactors(a: rng.normals(r * m.inFeatures, scale: 0.3), b: rng.normals(m.outFeatures * r, scale: 0.3), rank: r)
        }
    }

    @Test("PEFT at one rank: canonical names, uniform config, values rounded once to the output dtype",
          arguments: [DType.f32, .f16, .bf16])
    func uniformPEFT(dtype: DType) throws {
        let dir = AdapterFixture.temporaryDirectory("out-uniform")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir.appendingPathComponent("in"), modules: Self.modules, rank: 4, alpha: 8,
                                    rankPattern: ["v_proj": 2], rslora: true, config: ["custom": .string("kept")],
                                    tensorSuffix: ".default")
        let adapter = try LoRAAdapter.load(at: dir.appendingPathComponent("in"))
        let factors = Self.replacements(for: adapter, ranks: [3, 3, 3])
        let output = try adapter.replacing(factors, uniformRank: 3, dtype: dtype)

        let outDir = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        try output.writeFiles(into: outDir)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: outDir.path)) == [PEFTFiles.config, PEFTFiles.weights])

        let file = try SafetensorsFile(contentsOf: outDir.appendingPathComponent(PEFTFiles.weights))
        let q = Self.prefix + Self.modules[0].name, v = Self.prefix + Self.modules[1].name, e = Self.prefix + Self.modules[2].name
        // No adapter-name segment (vLLM requires that), bare embedding parameters.
        #expect(Set(file.tensors.map(\.name)) == [q + ".lora_A.weight", q + ".lora_B.weight", v + ".lora_A.weight",
                                                  v + ".lora_B.weight", e + ".lora_embedding_A", e + ".lora_embedding_B"])
        #expect(file.header.metadata == ["format": "pt"])
        #expect(file.tensors.allSatisfy { $0.dtype == dtype })

        let config = try PEFTConfig(json: try Data(contentsOf: outDir.appendingPathComponent(PEFTFiles.config)))
        #expect(config.rank == 3 && config.alpha == 3 && !config.useRSLoRA)
        #expect(config.rankPattern.isEmpty && config.alphaPattern.isEmpty)
        #expect(config.fields["custom"] == .string("kept"))

        let back = try LoRAAdapter.load(at: outDir)
        #expect(back.modules.map(\.name) == adapter.modules.map(\.name))
        #expect(back.modules.map(\.kind) == [.linear, .linear, .embedding])
        #expect(back.modules.map(\.rank) == [3, 3, 3])
        #expect(back.modules.map(\.scale) == [1, 1, 1])
        for (m, f) in zip(back.modules, factors) {
            let read = try back.factors(of: m)
            #expect(read.a == f.a.map { Double(ReferenceMath.rounded($0, to: dtype)) })
            #expect(read.b == f.b.map { Double(ReferenceMath.rounded($0, to: dtype)) })
        }
    }

    @Test("PEFT at per-module ranks: r is the most common rank, the others are named in the patterns")
    func perModulePEFT() throws {
        let dir = AdapterFixture.temporaryDirectory("out-permodule")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir, modules: Self.modules, rank: 4, alpha: 8, rankPattern: ["v_proj": 2])
        let adapter = try LoRAAdapter.load(at: dir)
        let ranks = [3, 1, 3]
        let output = try adapter.replacing(Self.replacements(for: adapter, ranks: ranks), uniformRank: nil, dtype: nil)
        guard case let .peft(config) = output.format else { Issue.record("not PEFT"); return }
        #expect(config.rank == 3 && config.alpha == 3)
        #expect(config.fields["rank_pattern"] == .object([Self.modules[1].name: .number(1)]))
        #expect(config.fields["alpha_pattern"] == .object([Self.modules[1].name: .number(1)]))
        let back = try LoRAAdapter.peft(config: config, weights: try SafetensorsFile(bytes: try output.weightsBytes()))
        #expect(back.modules.map(\.rank) == ranks)
        #expect(back.modules.map(\.scale) == [1, 1, 1])
    }

    @Test("a tie between ranks picks the smaller as r")
    func perModuleTie() throws {
        let dir = AdapterFixture.temporaryDirectory("out-tie")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir, modules: Array(Self.modules.prefix(2)), rank: 4, alpha: 8, rankPattern: ["v_proj": 2])
        let adapter = try LoRAAdapter.load(at: dir)
        let output = try adapter.replacing(Self.replacements(for: adapter, ranks: [4, 2]), uniformRank: nil, dtype: nil)
        let config = try #require(output.configJSON.map { try PEFTConfig(json: $0) })
        #expect(config.rank == 2 && config.alpha == 2)
        #expect(config.fields["rank_pattern"] == .object([Self.modules[0].name: .number(4)]))
    }

    @Test("modules_to_save and base-layer biases pass through byte for byte")
    func passthroughBytes() throws {
        let dir = AdapterFixture.temporaryDirectory("out-passthrough")
        defer { try? FileManager.default.removeItem(at: dir) }
        let head = try TensorToWrite.floats((0..<12).map { Float($0) / 3 }, name: Self.prefix + "lm_head.weight", shape: [4, 3], dtype: .bf16)
        let bias = try TensorToWrite.floats([0.1, -0.2, 0.3], name: Self.prefix + Self.modules[0].name + ".bias", shape: [3], dtype: .f16)
        let steps = TensorToWrite(name: "steps", dtype: .i32, shape: [], bytes: [1, 2, 3, 4])
        try AdapterFixture.makePEFT(at: dir, modules: Self.modules, rank: 4, alpha: 8, rankPattern: ["v_proj": 2],
                                    extraTensors: [head, bias, steps], config: ["bias": .string("lora_only")])
        let adapter = try LoRAAdapter.load(at: dir)
        let output = try adapter.replacing(Self.replacements(for: adapter, ranks: [2, 2, 2]), uniformRank: 2, dtype: .f32)
        let file = try SafetensorsFile(bytes: try output.weightsBytes())
        for t in [head, bias, steps] {
            let entry = try #require(file.header.entry(named: t.name))
            #expect(entry.dtype == t.dtype && entry.shape == t.shape)
            #expect(Array(file.rawBytes(of: entry)) == t.bytes)
        }
    }

    /// PEFT's `lora_bias=True` puts a bias on lora_B, and the layer adds `scale · lora_B(lora_A(x))`, bias
    /// included (PEFT `Linear.merge`: `base.bias + lora_B.bias * scaling`). Folding the scale into the
    /// factors must fold it into that bias too, or the output computes a different function.
    @Test("a lora_B bias is multiplied by the module's old scale (byte for byte when the scale is 1)",
          arguments: [(8.0, false), (4.0, false), (8.0, true)])
    func loraBBias(alpha: Double, rslora: Bool) throws {
        let dir = AdapterFixture.temporaryDirectory("out-lorabias")
        defer { try? FileManager.default.removeItem(at: dir) }
        let q = Self.modules[0]
        let values: [Float] = (0..<q.out).map { Float($0) * 0.125 - 0.5 }
        let bias = try TensorToWrite.floats(values, name: Self.prefix + q.name + ".lora_B.default.bias", shape: [q.out], dtype: .bf16)
        try AdapterFixture.makePEFT(at: dir, modules: [q], rank: 4, alpha: alpha, rslora: rslora, extraTensors: [bias],
                                    config: ["lora_bias": .bool(true)], tensorSuffix: ".default")
        let adapter = try LoRAAdapter.load(at: dir)
        let scale = rslora ? alpha / 2 : alpha / 4
        #expect(adapter.modules[0].scale == scale)
        #expect(adapter.passthrough.map(\.name) == [bias.name])
        let output = try adapter.replacing(Self.replacements(for: adapter, ranks: [2]), uniformRank: 2, dtype: .f32)
        let file = try SafetensorsFile(bytes: try output.weightsBytes())
        let entry = try #require(file.header.entry(named: bias.name))
        #expect(entry.dtype == .bf16 && entry.shape == [q.out])
        // The values are multiples of 1/8 and the scales powers of two, so the products are exact in BF16.
        #expect(try file.floats(entry) == values.map { $0 * Float(scale) })
        if scale == 1 { #expect(Array(file.rawBytes(of: entry)) == bias.bytes) }
        let config = try PEFTConfig(json: try #require(output.configJSON))
        #expect(config.fields["lora_bias"] == .bool(true))
    }

    @Test("an F64 input is written as F32 when no dtype is asked for")
    func f64Input() throws {
        let dir = AdapterFixture.temporaryDirectory("out-f64")
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = Self.prefix + "model.layers.0.self_attn.q_proj"
        func f64(_ v: [Double]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
        try AdapterFixture.writePEFT(at: dir, tensors: [
            TensorToWrite(name: key + ".lora_A.weight", dtype: .f64, shape: [1, 2], bytes: f64([1, 2])),
            TensorToWrite(name: key + ".lora_B.weight", dtype: .f64, shape: [2, 1], bytes: f64([3, 4])),
        ], config: AdapterFixture.peftConfig(rank: 1, alpha: 1))
        let adapter = try LoRAAdapter.load(at: dir)
        let output = try adapter.replacing([ReplacementFactors(a: [1, 2], b: [3, 4], rank: 1)], uniformRank: 1, dtype: nil)
        #expect(output.tensors.map(\.dtype) == [.f32, .f32])
    }

    @Test("replacements must match the modules in number and size")
    func badReplacements() throws {
        let dir = AdapterFixture.temporaryDirectory("out-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir, modules: Self.modules, rank: 4, alpha: 8, rankPattern: ["v_proj": 2])
        let adapter = try LoRAAdapter.load(at: dir)
        let good = Self.replacements(for: adapter, ranks: [2, 2, 2])
        #expect(throws: AdapterError.shapeMismatch(tensor: "(adapter)", detail: "2 replacements for 3 modules")) {
            _ = try adapter.replacing(Array(good.prefix(2)), uniformRank: 2, dtype: nil)
        }
        let wrong = [ReplacementFactors(a: [1, 2, 3], b: good[0].b, rank: 2)] + good.dropFirst()
        do {
            _ = try adapter.replacing(wrong, uniformRank: 2, dtype: nil)
            Issue.record("a replacement of the wrong size was accepted")
        } catch {
            guard case let .safetensors(name, .valueCountMismatch(tensor: _, shape: shape, count: 3)) = error else {
                Issue.record("wrong error \(error)"); return
            }
            #expect(name == adapter.modules[0].key + ".lora_A.weight")
            #expect(shape == [2, 10])
        }
    }
}
