import Foundation
import Testing
@testable import AdapterFormats
import TestSupport

@Suite("kohya / sd-scripts adapters")
struct KohyaAdapterTests {
    static let q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
    static let fc1 = "lora_te_text_model_encoder_layers_0_mlp_fc1"
    static let conv = "lora_unet_down_blocks_0_resnets_0_conv1"

    @Test("modules, shapes and alpha/r scales; the conv module reads as r×(in·9)", arguments: [DType.f32, .f16, .bf16])
    func reads(dtype: DType) throws {
        let dir = AdapterFixture.temporaryDirectory("kohya-read")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try AdapterFixture.makeKohya(at: dir.appendingPathComponent("style.safetensors"), rank: 8, alpha: 4, dtype: dtype)
        let adapter = try LoRAAdapter.load(at: file)
        #expect(adapter.format == .kohya)
        #expect(adapter.modules.map(\.name) == [Self.q, Self.fc1, Self.conv])
        #expect(adapter.modules.map(\.key) == [Self.q, Self.fc1, Self.conv])
        #expect(adapter.modules.map(\.kind) == [.linear, .linear, .conv])
        #expect(adapter.modules.map(\.rank) == [8, 8, 8])
        #expect(adapter.modules.map(\.outFeatures) == [40, 64, 24])
        #expect(adapter.modules.map(\.inFeatures) == [40, 32, 8 * 3 * 3])
        #expect(adapter.modules.map(\.alpha) == [4, 4, 4])
        #expect(adapter.modules.map(\.scale) == [0.5, 0.5, 0.5])           // alpha 4 / r 8
        #expect(adapter.passthrough.isEmpty)                                // the alphas are the modules'
        let conv = adapter.modules[2]
        #expect(conv.aTensor.shape == [8, 8, 3, 3] && conv.bTensor.shape == [24, 8, 1, 1])
        #expect(conv.parameterCount == 8 * (72 + 24))
        // The conv kernel's values, flattened row-major, are the r×72 matrix the fixture generated.
        let (a, b) = LoRAFactorsFixture.make(out: 24, in: 72, rank: 8, seed: 7 &+ 99)
        let read = try adapter.factors(of: conv)
        #expect(read.a == a.map { Double(ReferenceMath.rounded($0, to: dtype)) })
        #expect(read.b == b.map { Double(ReferenceMath.rounded($0, to: dtype)) })
    }

    @Test("a module without an alpha tensor has scale 1 (alpha = r)")
    func missingAlpha() throws {
        let dir = AdapterFixture.temporaryDirectory("kohya-noalpha")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a.safetensors")
        let (a, b) = LoRAFactorsFixture.make(out: 6, in: 5, rank: 3, seed: 2)
        try SafetensorsWriter.write([try .floats(a, name: "lora_unet_x.lora_down.weight", shape: [3, 5], dtype: .f32),
                                     try .floats(b, name: "lora_unet_x.lora_up.weight", shape: [6, 3], dtype: .f32),
                                     try .floats(a, name: "lora_unet_y.lora_down.weight", shape: [3, 5], dtype: .f32),
                                     try .floats(b, name: "lora_unet_y.lora_up.weight", shape: [6, 3], dtype: .f32),
                                     try .floats([6], name: "lora_unet_y.alpha", shape: [], dtype: .f16)], to: file)
        let adapter = try LoRAAdapter.load(at: file)
        #expect(adapter.modules.map(\.name) == ["lora_unet_x", "lora_unet_y"])
        #expect(adapter.modules.map(\.scale) == [1, 2])                     // no alpha: 1; alpha 6 / r 3
        #expect(adapter.modules.map(\.alpha) == [3, 6])
    }

    @Test("writing back: new rank in 4-D conv shapes, alpha = rank, metadata updated, values exact")
    func writesBack() throws {
        let dir = AdapterFixture.temporaryDirectory("kohya-write")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try AdapterFixture.makeKohya(at: dir.appendingPathComponent("in.safetensors"), rank: 8, alpha: 4, dtype: .f16)
        let adapter = try LoRAAdapter.load(at: source)
        let newRank = 3
        var rng = SeededRandom(seed: 5)
        let factors = adapter.modules.map { m in
            ReplacementFactors(a: rng.normals(newRank * m.inFeatures), b: rng.normals(m.outFeatures * newRank), rank: newRank)
        }
        let output = try adapter.replacing(factors, uniformRank: newRank, dtype: .f32, kohyaFileName: "out.safetensors")
        #expect(output.configJSON == nil)
        let outDir = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        try output.writeFiles(into: outDir)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outDir.path) == ["out.safetensors"])

        let file = try SafetensorsFile(contentsOf: outDir.appendingPathComponent("out.safetensors"))
        let convDown = try #require(file.header.entry(named: Self.conv + ".lora_down.weight"))
        let convUp = try #require(file.header.entry(named: Self.conv + ".lora_up.weight"))
        #expect(convDown.shape == [newRank, 8, 3, 3] && convUp.shape == [24, newRank, 1, 1])
        #expect(file.header.entry(named: Self.q + ".lora_down.weight")?.shape == [newRank, 40])
        #expect(file.header.entry(named: Self.q + ".lora_up.weight")?.shape == [40, newRank])
        for key in [Self.q, Self.fc1, Self.conv] {
            let alpha = try #require(file.header.entry(named: key + ".alpha"))
            #expect(alpha.shape == [] && alpha.dtype == .f32)
            #expect(try file.floats(alpha) == [Float(newRank)])
        }
        #expect(file.tensors.count == 9)
        #expect(file.header.metadata?["ss_network_dim"] == "3")
        #expect(file.header.metadata?["ss_network_alpha"] == "3")
        #expect(file.header.metadata?["ss_network_module"] == "networks.lora")

        let back = try LoRAAdapter.load(at: outDir.appendingPathComponent("out.safetensors"))
        #expect(back.modules.map(\.name) == adapter.modules.map(\.name))
        #expect(back.modules.map(\.rank) == [newRank, newRank, newRank])
        #expect(back.modules.map(\.scale) == [1, 1, 1])
        #expect(back.modules[2].kind == .conv && back.modules[2].inFeatures == 72)
        for (m, f) in zip(back.modules, factors) {
            let read = try back.factors(of: m)
            #expect(read.a == f.a.map(Double.init))
            #expect(read.b == f.b.map(Double.init))
        }
    }

    @Test("per-module ranks (no deployment rank): each alpha equals its module's rank, ss_network_dim the largest")
    func perModuleRanks() throws {
        let dir = AdapterFixture.temporaryDirectory("kohya-permodule")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try AdapterFixture.makeKohya(at: dir.appendingPathComponent("in.safetensors"), rank: 8, alpha: 16, dtype: .bf16)
        let adapter = try LoRAAdapter.load(at: source)
        let ranks = [2, 5, 4]
        let factors = zip(adapter.modules, ranks).map { m, r in
            ReplacementFactors(a: [Float](repeating: 0.5, count: r * m.inFeatures),
                               b: [Float](repeating: 0.25, count: m.outFeatures * r), rank: r)
        }
        let output = try adapter.replacing(factors, uniformRank: nil, dtype: nil)
        let file = try SafetensorsFile(bytes: try output.weightsBytes())
        for (key, r) in zip([Self.q, Self.fc1, Self.conv], ranks) {
            #expect(try file.floats(named: key + ".alpha") == [Float(r)])
            #expect(file.header.entry(named: key + ".lora_down.weight")?.dtype == .bf16)  // the input's dtype
        }
        #expect(file.header.metadata?["ss_network_dim"] == "5")
        let back = try LoRAAdapter.kohya(weights: file)
        #expect(back.modules.map(\.rank) == ranks)
        #expect(back.modules.map(\.scale) == [1, 1, 1])
    }

    @Test("an alpha tensor without a module is passed through unchanged")
    func orphanAlpha() throws {
        let dir = AdapterFixture.temporaryDirectory("kohya-orphan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a.safetensors")
        let (a, b) = LoRAFactorsFixture.make(out: 4, in: 4, rank: 2, seed: 2)
        try SafetensorsWriter.write([try .floats(a, name: "lora_unet_x.lora_down.weight", shape: [2, 4], dtype: .f32),
                                     try .floats(b, name: "lora_unet_x.lora_up.weight", shape: [4, 2], dtype: .f32),
                                     try .floats([7], name: "lora_unet_gone.alpha", shape: [], dtype: .f16)], to: file)
        let adapter = try LoRAAdapter.load(at: file)
        #expect(adapter.passthrough.map(\.name) == ["lora_unet_gone.alpha"])
        let out = try adapter.replacing([ReplacementFactors(a: a, b: b, rank: 2)], uniformRank: 2, dtype: nil)
        let written = try SafetensorsFile(bytes: try out.weightsBytes())
        #expect(try written.floats(named: "lora_unet_gone.alpha") == [7])
        #expect(written.header.entry(named: "lora_unet_gone.alpha")?.dtype == .f16)
        #expect(written.header.metadata == nil)
    }

    @Test("a DoRA scale is refused, naming the tensor")
    func doraScale() throws {
        let dir = AdapterFixture.temporaryDirectory("kohya-dora")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a.safetensors")
        let (a, b) = LoRAFactorsFixture.make(out: 4, in: 4, rank: 2, seed: 2)
        try SafetensorsWriter.write([try .floats(a, name: "lora_unet_x.lora_down.weight", shape: [2, 4], dtype: .f32),
                                     try .floats(b, name: "lora_unet_x.lora_up.weight", shape: [4, 2], dtype: .f32),
                                     try .floats([1, 1, 1, 1], name: "lora_unet_x.dora_scale", shape: [1, 4], dtype: .f32)], to: file)
        do {
            _ = try LoRAAdapter.load(at: file)
            Issue.record("a DoRA adapter was accepted")
        } catch {
            guard case let .unsupported(message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.hasPrefix("tensor lora_unet_x.dora_scale: a DoRA scale"))
        }
    }

    @Test("broken kohya files: missing halves, a non-scalar alpha, no modules")
    func broken() throws {
        let dir = AdapterFixture.temporaryDirectory("kohya-broken")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a.safetensors")
        let (a, b) = LoRAFactorsFixture.make(out: 4, in: 4, rank: 2, seed: 2)
        let down = try TensorToWrite.floats(a, name: "lora_unet_x.lora_down.weight", shape: [2, 4], dtype: .f32)
        let up = try TensorToWrite.floats(b, name: "lora_unet_x.lora_up.weight", shape: [4, 2], dtype: .f32)

        try SafetensorsWriter.write([down], to: file)
        #expect(throws: AdapterError.missingPartner(module: "lora_unet_x", missing: "lora_up.weight")) { try LoRAAdapter.load(at: file) }
        try SafetensorsWriter.write([up], to: file)
        #expect(throws: AdapterError.missingPartner(module: "lora_unet_x", missing: "lora_down.weight")) { try LoRAAdapter.load(at: file) }
        let alpha = try TensorToWrite.floats([1, 2], name: "lora_unet_x.alpha", shape: [2], dtype: .f32)
        try SafetensorsWriter.write([down, up, alpha], to: file)
        #expect(throws: AdapterError.shapeMismatch(tensor: "lora_unet_x.alpha", detail: "alpha must hold one value, has shape [2]")) {
            try LoRAAdapter.load(at: file)
        }
        try SafetensorsWriter.write([try .floats([1], name: "other", shape: [1], dtype: .f32)], to: file)
        #expect(throws: AdapterError.noModules("a.safetensors")) { try LoRAAdapter.load(at: file) }
        try Data([9, 9, 9]).write(to: file)
        do {
            _ = try LoRAAdapter.load(at: file)
            Issue.record("a corrupt file was accepted")
        } catch {
            guard case let .safetensors(name, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(name == "a.safetensors")
        }
    }
}
