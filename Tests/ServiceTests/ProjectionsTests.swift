import AdapterFormats
import Foundation
@testable import Service
import Testing
import TestSupport

/// `…/squeezed/{rank}/projections.safetensors`: the exact squeeze's T_A (t×r) and T_B (r×t) per
/// module, checked against the served squeeze itself: A' = T_A·A and B' = B·T_B.
@Suite("Squeeze projections over HTTP")
struct ProjectionsTests {
    /// `x` (rows × inner) times `y` (inner × columns), row-major, in Double by loops.
    static func product(_ x: [Float], _ y: [Float], rows: Int, inner: Int, columns: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * columns)
        for i in 0..<rows { for k in 0..<inner { for j in 0..<columns {
            out[i * columns + j] += Double(x[i * inner + k]) * Double(y[k * columns + j])
        } } }
        return out
    }

    @Test("every module's projections map the source factors onto the served squeeze (f32, within 1e-5 of the largest entry)")
    func mapsTheFactors() async throws {
        let files = try ServiceFixtures.peft(seed: 61)
        try await ServiceHarness.with { s in
            try await s.uploadPEFT(files, name: "chat")
            let base = "/v1/adapters/chat/squeezed/4/"
            let head = try await s.client.request("HEAD", base + "projections.safetensors?method=exact")
            #expect(head.status == 200 && head.header("ETag") == nil, "HEAD computes nothing")
            let served = try await s.get(base + "projections.safetensors?method=exact")
            try #require(served.status == 200, "\(served.text)")
            #expect(served.header("ETag") != nil)
            let weights = try await s.get(base + "adapter_model.safetensors?method=exact&dtype=f32")
            try #require(weights.status == 200)
            let projections = try SafetensorsFile(bytes: served.body)
            let squeezed = try SafetensorsFile(bytes: weights.body)
            let source = try SafetensorsFile(bytes: files.weights)
            #expect(projections.header.metadata?["content"] == "lora-squeeze projections")
            for module in ServiceFixtures.modules {
                let name = module.name, r = module.rank, t = 4
                let key = "base_model.model.\(name)"
                let a = try source.floats(named: key + ".lora_A.weight"), b = try source.floats(named: key + ".lora_B.weight")
                let tA = try projections.floats(named: name + ".T_A"), tB = try projections.floats(named: name + ".T_B")
                #expect(tA.count == t * r && tB.count == r * t, "\(name)")
                let aPrime = try squeezed.floats(named: key + ".lora_A.weight"), bPrime = try squeezed.floats(named: key + ".lora_B.weight")
                let mappedA = Self.product(tA, a, rows: t, inner: r, columns: module.inFeatures)
                let mappedB = Self.product(b, tB, rows: module.out, inner: r, columns: t)
                let scaleA = aPrime.map { abs(Double($0)) }.max() ?? 1, scaleB = bPrime.map { abs(Double($0)) }.max() ?? 1
                #expect(zip(mappedA, aPrime).allSatisfy { abs($0 - Double($1)) <= 1e-5 * scaleA }, "A' = T_A·A for \(name)")
                #expect(zip(mappedB, bPrime).allSatisfy { abs($0 - Double($1)) <= 1e-5 * scaleB }, "B' = B·T_B for \(name)")
            }
            // Cached: the second answer is the same bytes, and HEAD now has them.
            #expect(try await s.get(base + "projections.safetensors?method=exact").body == served.body)
            #expect(try await s.client.request("HEAD", base + "projections.safetensors?method=exact").header("ETag") == served.header("ETag"))
            // The output dtype does not change projections (one cache entry).
            #expect(try await s.get(base + "projections.safetensors?method=exact&dtype=bf16").body == served.body)
            // A randomized squeeze has none to give.
            try expectProblem(try await s.get(base + "projections.safetensors?method=rsvd"), status: 400,
                              detailContains: ["exact method"], "rsvd")
            #expect(try await s.get(base + "other.safetensors").status == 404)
        }
    }
}
