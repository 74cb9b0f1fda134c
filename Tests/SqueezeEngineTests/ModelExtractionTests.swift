import AdapterFormats
import Foundation
import Testing
@testable import SqueezeEngine
import TestSupport

/// Extraction against an independent computation: ΔW = tuned − base formed by loops in double, its
/// singular values from a dense LAPACK SVD, and the error of the extracted factors by loops. A
/// tuned model made as base + a known rank-4 update + noise gives back ΔW's best rank-4
/// approximation, to within what randomized SVD (oversampling 10, 2 power iterations) loses on a
/// spectrum with a gap this clear.
@Suite("Model extraction")
struct ModelExtractionTests {
    static func models(dtype: DType, sharded: Bool) throws -> (dir: URL, base: ModelWeights, tuned: ModelWeights) {
        let dir = AdapterFixture.temporaryDirectory("extract")
        try ModelFixture.write(at: dir.appendingPathComponent("base"), dtype: dtype, sharded: sharded)
        try ModelFixture.writeTuned(from: dir.appendingPathComponent("base"), to: dir.appendingPathComponent("tuned"), rank: 4, noise: 1e-3)
        return (dir, try ModelWeights.open(dir.appendingPathComponent("base")), try ModelWeights.open(dir.appendingPathComponent("tuned")))
    }

    @Test("a known rank-4 update plus noise comes back as ΔW's best rank-4 approximation",
          arguments: [(DType.f32, true), (.bf16, true), (.f32, false)])
    func recoversTheUpdate(dtype: DType, sharded: Bool) throws {
        let (dir, base, tuned) = try Self.models(dtype: dtype, sharded: sharded)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = try ModelExtraction(base: base.headers, tuned: tuned.headers, options: .init(rank: 4))
        #expect(!plan.pairs.contains { $0.tensor.contains("embed") || $0.shape.count != 2 }, "embeddings and norms are not targets by default")
        var extracted: [ExtractedModule] = []
        for pair in plan.pairs {
            guard let update = try plan.update(pair, base: base.shards[pair.baseShard]!, tuned: tuned.shards[pair.tunedShard]!) else { continue }
            extracted.append(try plan.factor(pair, update: update))
        }
        #expect(extracted.map { $0.module + ".weight" }.sorted() == ModelFixture.tunedWeights.sorted(), "only what changed")
        for m in extracted {
            let name = m.module + ".weight"
            let pair = try #require(plan.pairs.first { $0.tensor == name })
            let w0 = try base.shards[pair.baseShard]!.floats(named: name), w1 = try tuned.shards[pair.tunedShard]!.floats(named: name)
            let delta = zip(w1, w0).map { Double($0) - Double($1) }
            let sigma = try LAPACK.svd(try Matrix(rows: m.outFeatures, columns: m.inFeatures, storage: delta)).s
            let norm = sigma.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let optimal = sigma.dropFirst(4).reduce(0) { $0 + $1 * $1 }.squareRoot()
            var sum = 0.0
            for i in 0..<m.outFeatures {
                for j in 0..<m.inFeatures {
                    var y = 0.0
                    for k in 0..<4 { y += Double(m.b[i, k]) * Double(m.a[k, j]) }
                    let e = delta[i * m.inFeatures + j] - y
                    sum += e * e
                }
            }
            let error = sum.squareRoot()
            #expect(error <= optimal * 1.001 + 1e-6 * norm, "\(name): error \(error), optimal \(optimal) of \(norm)")
            #expect(abs(m.relativeError - error / norm) <= 1e-3, "\(name): reported \(m.relativeError), measured \(error / norm)")
            #expect(m.energy > 0.99 && m.rank == 4, "\(name): the rank-4 update holds nearly all of ΔW's energy (\(m.energy))")
        }
        // The adapter as PEFT reads it: scale 1, so B'A' is the update.
        let files = try plan.peftFiles(extracted, baseModel: "fixture/model", dtype: .f32)
        let adapter = try LoRAAdapter.peft(config: try PEFTConfig(json: files.config), weights: try SafetensorsFile(bytes: files.weights))
        #expect(adapter.modules.count == extracted.count && adapter.modules.allSatisfy { $0.scale == 1 && $0.rank == 4 })
        #expect(adapter.peftConfig?.baseModel == "fixture/model")
    }

    @Test("--energy keeps the smallest k that holds the fraction, zero-padded to R")
    func energy() throws {
        let (dir, base, tuned) = try Self.models(dtype: .f32, sharded: false)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = try ModelExtraction(base: base.headers, tuned: tuned.headers,
                                       options: .init(rank: 8, energy: 0.5, targets: ["q_proj"]))
        #expect(plan.pairs.map(\.module) == ["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj"])
        let pair = plan.pairs[0]
        let m = try plan.factor(pair, update: try #require(try plan.update(pair, base: base.shards[pair.baseShard]!, tuned: tuned.shards[pair.tunedShard]!)))
        // σ ∝ 1, ½, ¼, ⅛: σ₁² alone is 0.75 of the energy.
        #expect(m.rank == 1 && m.energy >= 0.5 && m.a.rows == 8, "rank \(m.rank), energy \(m.energy)")
        #expect((1..<8).allSatisfy { k in (0..<m.a.columns).allSatisfy { m.a[k, $0] == 0 } }, "rows past k are zero")
        #expect(try plan.update(plan.pairs[1], base: base.shards[plan.pairs[1].baseShard]!, tuned: tuned.shards[plan.pairs[1].tunedShard]!) == nil,
                "layer 1's q_proj did not change")
    }

    @Test func modelsThatDoNotMatchAreRefusedNamingTheTensor() throws {
        let (dir, base, tuned) = try Self.models(dtype: .f32, sharded: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var fewer = tuned.headers
        let shard = ModelFixture.shardNames[1]
        let kept = fewer[shard]!.tensors.filter { $0.name != "model.norm.weight" }
        fewer[shard] = try SafetensorsHeader.parse(SafetensorsWriter.encode(kept.map {
            TensorToWrite(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: [UInt8](repeating: 0, count: $0.byteRange.count)) }))
        #expect(throws: ModelExtractionError.missingInTuned(tensor: "model.norm.weight")) {
            try ModelExtraction(base: base.headers, tuned: fewer, options: .init(rank: 4))
        }
        #expect(throws: ModelExtractionError.missingInBase(tensor: "model.norm.weight")) {
            try ModelExtraction(base: fewer, tuned: tuned.headers, options: .init(rank: 4))
        }
        let reshaped = try SafetensorsHeader.parse(SafetensorsWriter.encode([TensorToWrite(name: "model.norm.weight", dtype: .f32, shape: [16],
                                                                                            bytes: [UInt8](repeating: 0, count: 64))]))
        #expect(throws: ModelExtractionError.shapeMismatch(tensor: "model.norm.weight", base: [32], tuned: [16])) {
            try ModelExtraction(base: ["a": try SafetensorsHeader.parse(SafetensorsWriter.encode([TensorToWrite(name: "model.norm.weight", dtype: .f32, shape: [32], bytes: [UInt8](repeating: 0, count: 128))]))],
                                tuned: ["a": reshaped], options: .init(rank: 4))
        }
        #expect(throws: ModelExtractionError.invalidTarget("target nope matches no weight of the model")) {
            try ModelExtraction(base: base.headers, tuned: tuned.headers, options: .init(rank: 4, targets: ["q_proj", "nope"]))
        }
        #expect(throws: ModelExtractionError.self) { try ModelExtraction(base: base.headers, tuned: tuned.headers, options: .init(rank: 4, targets: ["norm"])) }
        #expect(throws: ModelExtractionError.self) { try ModelExtraction(base: base.headers, tuned: tuned.headers, options: .init(rank: 0)) }
        #expect(throws: ModelExtractionError.self) { try ModelExtraction(base: base.headers, tuned: tuned.headers, options: .init(rank: 4, energy: 1.5)) }
    }
}
