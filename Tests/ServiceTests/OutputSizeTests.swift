import Foundation
import SqueezeEngine
import Testing
@testable import Service

/// The output size a request is refused on, computed from the stored description before any work.
@Suite("Output size, from the adapter's shapes")
struct OutputSizeTests {
    /// A description with Gemma-2B's 126 modules (18 layers × q, k, v, o, gate, up, down) at rank 64, f32.
    static func gemma2B(dtype: String = "F32") throws -> AdapterInspection {
        let shapes: [(String, Int, Int)] = [("self_attn.q_proj", 2048, 2048), ("self_attn.k_proj", 256, 2048),
                                            ("self_attn.v_proj", 256, 2048), ("self_attn.o_proj", 2048, 2048),
                                            ("mlp.gate_proj", 16384, 2048), ("mlp.up_proj", 16384, 2048), ("mlp.down_proj", 2048, 16384)]
        var modules: [[String: Any]] = []
        for layer in 0..<18 {
            for (name, out, inF) in shapes {
                modules.append(["name": "model.layers.\(layer).\(name)", "kind": "linear", "outFeatures": out, "inFeatures": inF,
                                "rank": 64, "dtype": dtype, "alpha": 128, "scale": 2, "ranks": [64], "energy": [1], "singularValues": [1]])
            }
        }
        let bytes = modules.reduce(0) { $0 + ($1["outFeatures"] as! Int + ($1["inFeatures"] as! Int)) * 64 * 4 }
        let json: [String: Any] = ["format": "peft", "modules": modules, "bytes": bytes, "candidates": []]
        return try JSONDecoder().decode(AdapterInspection.self, from: JSONSerialization.data(withJSONObject: json))
    }

    @Test("the issue's GET: Gemma-2B at rank 2048 in f32 is about 10 GB, past the 4 GiB default; rank 512 is 2.5 GB, within it")
    func issueCase() throws {
        let inspection = try Self.gemma2B()
        let source = Int64(inspection.bytes) + 20_000   // the header and config
        let at2048 = OutputSize.squeezed(sourceBytes: source, inspection, rank: 2048, dtype: .f32)
        // Σ(out + in) = 1,225,728 per rank; × 2048 × 4 bytes = 10,041,163,776.
        #expect(at2048 >= 10_041_163_776 && at2048 < 10_041_163_776 + 100_000)
        #expect(at2048 > ServiceLimits().maxOutputBytes)
        let at512 = OutputSize.squeezed(sourceBytes: source, inspection, rank: 512, dtype: .f32)
        #expect(at512 >= 1_225_728 * 512 * 4 && at512 <= ServiceLimits().maxOutputBytes)
        // bf16 halves the factors.
        #expect(OutputSize.squeezed(sourceBytes: source, inspection, rank: 512, dtype: .bf16) < at512 / 2 + 100_000)
    }

    @Test("delta: out × in per module (8 GB for Gemma-2B's linear layers in f32)")
    func delta() throws {
        let m = OutputSize.delta(try Self.gemma2B(), dtype: .f32)
        let dense: Int64 = 18 * (2048 * 2048 * 2 + 256 * 2048 * 2 + 16384 * 2048 * 3) * 4
        #expect(m >= dense && m < dense + 126 * OutputSize.headerSlackPerModule + 1)
    }

    @Test("sizes past Int64 are Int64.max, not a trap")
    func overflow() throws {
        let json: [String: Any] = ["format": "peft", "bytes": 0, "candidates": [], "modules": [
            ["name": "m", "kind": "linear", "outFeatures": Int.max / 2, "inFeatures": Int.max / 2, "rank": 1, "dtype": "F32",
             "alpha": 1, "scale": 1, "ranks": [1], "energy": [1], "singularValues": [1]]]]
        let inspection = try JSONDecoder().decode(AdapterInspection.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(OutputSize.squeezed(sourceBytes: 0, inspection, rank: 512, dtype: nil) == .max)
        #expect(OutputSize.delta(inspection, dtype: nil) == .max)
    }
}
