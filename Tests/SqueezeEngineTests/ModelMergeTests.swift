import AdapterFormats
import Foundation
import Testing
@testable import SqueezeEngine
import TestSupport

/// `ModelMerge` against an independent computation: W + s·B·A summed in double precision by plain
/// loops from the adapter's factors, compared with each merged element within half a unit in the
/// last place of the base's dtype (plus a hair for summation order); everything else byte for byte.
@Suite("Model merge")
struct ModelMergeTests {
    struct Fixture {
        let dir: URL
        let adapter: LoRAAdapter
        let shards: [String: SafetensorsFile]
    }

    static func fixture(dtype: DType, sharded: Bool, embedding: Bool = true) throws -> Fixture {
        let dir = AdapterFixture.temporaryDirectory("merge")
        let model = dir.appendingPathComponent("model")
        let files = try ModelFixture.write(at: model, dtype: dtype, sharded: sharded)
        try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: ModelFixture.adapterModules(rank: 4, embedding: embedding),
                                    rank: 4, alpha: 16, dtype: .f32)
        let adapter = try LoRAAdapter.load(at: dir.appendingPathComponent("adapter"))
        var shards: [String: SafetensorsFile] = [:]
        for f in files where f.hasSuffix(".safetensors") {
            shards[f] = try SafetensorsFile(contentsOf: model.appendingPathComponent(f), populate: false)
        }
        return Fixture(dir: dir, adapter: adapter, shards: shards)
    }

    /// At most half a unit in the last place of `dtype` at `v`: relative for normal values, and the
    /// subnormals' fixed spacing below them (binary16's start at 2⁻¹⁴ with spacing 2⁻²⁴).
    static func halfULP(_ v: Double, _ dtype: DType) -> Double {
        let bits: Double = dtype == .bf16 ? 8 : dtype == .f16 ? 11 : 24
        let subnormalHalfSpacing: Double = dtype == .f16 ? 0x1p-25 : dtype == .bf16 ? 0x1p-134 : 0x1p-150
        return max(abs(v) * pow(2, -bits), subnormalHalfSpacing)
    }

    @Test("targeted weights are W + s·B·A rounded once; the rest, header included, byte-identical",
          arguments: [(DType.f32, true), (.bf16, true), (.f16, false), (.bf16, false)])
    func mergedMatchesIndependentComputation(dtype: DType, sharded: Bool) throws {
        let f = try Self.fixture(dtype: dtype, sharded: sharded)
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let merge = try ModelMerge(adapter: f.adapter, shards: f.shards.mapValues(\.header))
        #expect(merge.targets.count == f.adapter.modules.count)
        #expect(merge.touchedShards == Set(f.shards.keys), "every shard holds a q_proj or the embedding")
        var checked = 0
        for (name, base) in f.shards {
            var out: [UInt8] = []
            try merge.write(base, to: { out += $0 })
            let merged = try SafetensorsFile(bytes: out)
            #expect(Array(merged.headerBytes) == Array(base.headerBytes), "\(name): the base's header, byte for byte")
            #expect(merged.tensors.map(\.name) == base.tensors.map(\.name))
            for t in base.tensors {
                let after = merged.rawBytes(of: merged.header.entry(named: t.name)!)
                guard let module = f.adapter.modules.first(where: { $0.name + ".weight" == t.name }) else {
                    #expect(Array(after) == Array(base.rawBytes(of: t)), "\(t.name) is not targeted: unchanged")
                    continue
                }
                let (a, b) = try f.adapter.factors(of: module)
                let w = try base.floats(t).map(Double.init)
                let got = try merged.floats(merged.header.entry(named: t.name)!).map(Double.init)
                let transposed = module.kind == .embedding
                var changed = 0
                for i in 0..<module.outFeatures {
                    for j in 0..<module.inFeatures {
                        var d = 0.0
                        for k in 0..<module.rank { d += b[i * module.rank + k] * a[k * module.inFeatures + j] }
                        let index = transposed ? j * module.outFeatures + i : i * module.inFeatures + j
                        let want = w[index] + module.scale * d
                        #expect(abs(got[index] - want) <= Self.halfULP(want, dtype) * (1 + 1e-9) + 1e-12,
                                "\(t.name)[\(index)]: \(got[index]) for \(want)")
                        if got[index] != w[index] { changed += 1 }
                    }
                }
                #expect(changed > module.outFeatures * module.inFeatures / 2, "\(t.name): the update changed it")
                checked += 1
            }
        }
        #expect(checked == f.adapter.modules.count)
    }

    @Test func aBaseThatDoesNotFitIsRefusedNamingTheTensor() throws {
        let f = try Self.fixture(dtype: .f32, sharded: true, embedding: false)
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let headers = f.shards.mapValues(\.header)
        // Another model's adapter: a layer this base lacks, and a q_proj of another width.
        let other = f.dir.appendingPathComponent("other")
        try AdapterFixture.makePEFT(at: other, modules: [.init("model.layers.7.self_attn.q_proj", out: 32, in: 32, rank: 2)], rank: 2, alpha: 2)
        #expect(throws: ModelMergeError.missingTensor(module: "model.layers.7.self_attn.q_proj", tensor: "model.layers.7.self_attn.q_proj.weight")) {
            try ModelMerge(adapter: try LoRAAdapter.load(at: other), shards: headers)
        }
        let wide = f.dir.appendingPathComponent("wide")
        try AdapterFixture.makePEFT(at: wide, modules: [.init("model.layers.0.self_attn.q_proj", out: 64, in: 32, rank: 2)], rank: 2, alpha: 2)
        #expect(throws: ModelMergeError.shapeMismatch(tensor: "model.layers.0.self_attn.q_proj.weight", base: [32, 32], update: [64, 32])) {
            try ModelMerge(adapter: try LoRAAdapter.load(at: wide), shards: headers)
        }
        // An integer weight of the right name and shape: nothing to add a float update to.
        let int = try SafetensorsHeader.parse(SafetensorsWriter.encode([TensorToWrite(name: "model.layers.0.self_attn.q_proj.weight", dtype: .i32,
                                                                                      shape: [32, 32], bytes: [UInt8](repeating: 0, count: 4096))]))
        let one = f.dir.appendingPathComponent("one")
        try AdapterFixture.makePEFT(at: one, modules: [.init("model.layers.0.self_attn.q_proj", out: 32, in: 32, rank: 2)], rank: 2, alpha: 2)
        #expect(throws: ModelMergeError.unsupportedDType(tensor: "model.layers.0.self_attn.q_proj.weight", dtype: .i32)) {
            try ModelMerge(adapter: try LoRAAdapter.load(at: one), shards: ["x.safetensors": int])
        }
    }

    @Test func cancellationStopsBetweenTensors() throws {
        let f = try Self.fixture(dtype: .f32, sharded: false)
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let merge = try ModelMerge(adapter: f.adapter, shards: f.shards.mapValues(\.header))
        var written = 0
        #expect(throws: CancellationError.self) {
            try merge.write(f.shards["model.safetensors"]!, to: { written += $0.count }, isCancelled: { written > 0 })
        }
        #expect(written == f.shards["model.safetensors"]!.header.dataOffset, "the header, then nothing")
    }
}
