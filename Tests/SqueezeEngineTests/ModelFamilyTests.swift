import AdapterFormats
import Foundation
import Testing
@testable import SqueezeEngine
import TestSupport

/// A model family's fixture modules, with what is particular to it.
struct Family: CustomTestStringConvertible, Sendable {
    let name: String
    let modules: [AdapterFixture.Module]
    /// Name fragments that must be among the module names (the parts that make the family what it is).
    let mustContain: [String]
    var testDescription: String { name }
}

@Suite("Model families: PaliGemma, Gemma 3, mT5")
struct ModelFamilyTests {
    static let sourceRank = 16
    static let deploymentRank = 8

    static let families = [
        Family(name: "PaliGemma", modules: ModelFamilies.paligemma(rank: sourceRank),
               mustContain: ["model.language_model.layers.1.mlp.down_proj",
                             "model.vision_tower.vision_model.encoder.layers.0.self_attn.out_proj",
                             "model.vision_tower.vision_model.encoder.layers.1.mlp.fc2",
                             "model.multi_modal_projector.linear"]),
        Family(name: "Gemma 3", modules: ModelFamilies.gemma3(rank: sourceRank),
               mustContain: ["model.language_model.layers.0.self_attn.k_proj", "model.language_model.layers.1.mlp.gate_proj"]),
        Family(name: "mT5", modules: ModelFamilies.mt5(rank: sourceRank),
               mustContain: ["encoder.block.0.layer.0.SelfAttention.q", "decoder.block.0.layer.1.EncDecAttention.o",
                             "decoder.block.0.layer.2.DenseReluDense.wi_0", "shared"]),
    ]

    @Test("loads, squeezes to R = 8 and round-trips with every name preserved", arguments: families)
    func roundTrip(_ family: Family) throws {
        let dir = AdapterFixture.temporaryDirectory("family")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("src")
        try AdapterFixture.makePEFT(at: src, modules: family.modules, rank: Self.sourceRank, alpha: 32, dtype: .bf16)
        let source = try LoRAAdapter.load(at: src)
        let names = family.modules.map(\.name)
        #expect(source.modules.map(\.name) == names)
        for fragment in family.mustContain { #expect(names.contains(fragment), "\(fragment) missing from the fixture") }
        #expect(source.modules.map(\.kind) == family.modules.map { $0.embedding ? .embedding : .linear })

        let result = try AdapterSqueezer(module: ModuleSqueezer(policy: .fixed(Self.deploymentRank)),
                                         deploymentRank: Self.deploymentRank, dtype: .f32).squeeze(source)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try result.output.writeFiles(into: out)
        let written = try LoRAAdapter.load(at: out)

        #expect(written.modules.map(\.name) == names)
        #expect(written.modules.map(\.kind) == source.modules.map(\.kind))
        // The tensors are the source's, by name (the source has no adapter-name segment to drop).
        let sourceFile = try SafetensorsFile(contentsOf: src.appendingPathComponent(PEFTFiles.weights))
        let writtenFile = try SafetensorsFile(contentsOf: out.appendingPathComponent(PEFTFiles.weights))
        #expect(Set(writtenFile.tensors.map(\.name)) == Set(sourceFile.tensors.map(\.name)))
        #expect(written.peftConfig?.targetModules == source.peftConfig?.targetModules)
        #expect(written.peftConfig?.baseModel == "fixture/model")
        for (w, m) in zip(written.modules, source.modules) {
            let kept = min(Self.deploymentRank, m.rank, m.outFeatures, m.inFeatures)
            try SqueezeCheck.module(w, in: written, source: m, of: source, kept: kept,
                                    writtenRank: Self.deploymentRank, dtype: .f32)
        }
    }

    @Test("mT5's shared embedding is written as lora_embedding_A/B, shaped [R, vocab] and [d_model, R]")
    func mt5Embedding() throws {
        let dir = AdapterFixture.temporaryDirectory("family-mt5")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir.appendingPathComponent("src"), modules: ModelFamilies.mt5(rank: 16), rank: 16, alpha: 16)
        let source = try LoRAAdapter.load(at: dir.appendingPathComponent("src"))
        let result = try AdapterSqueezer(module: ModuleSqueezer(policy: .fixed(8)), deploymentRank: 8).squeeze(source)
        let file = try SafetensorsFile(bytes: try result.output.weightsBytes())
        #expect(file.header.entry(named: "base_model.model.shared.lora_embedding_A")?.shape == [8, 100])
        #expect(file.header.entry(named: "base_model.model.shared.lora_embedding_B")?.shape == [48, 8])
        #expect(file.header.entry(named: "base_model.model.shared.lora_A.weight") == nil)
    }
}
