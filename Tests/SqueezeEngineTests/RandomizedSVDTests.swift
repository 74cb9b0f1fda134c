import Testing
@testable import SqueezeEngine
import TestSupport

@Suite("Randomized SVD")
struct RandomizedSVDTests {
    static func update(out: Int, inF: Int, r: Int, seed: UInt64, decay: Float = 3) throws -> (LowRankUpdate, [Float], [Float]) {
        let (a, b) = LoRAFactorsFixture.make(out: out, in: inF, rank: r, decay: decay, seed: seed)
        return (try LowRankUpdate(a: Matrix(rows: r, columns: inF, storage: a),
                                  b: Matrix(rows: out, columns: r, storage: b), scale: 2), a, b)
    }

    // With p = 10 oversampling and q = 2 power iterations on a decaying spectrum, Halko et al.'s
    // bounds put rsvd's error within a hair of optimal; 1e-4 of ‖ΔW‖ is the squeeze_ref check tolerance.
    @Test("rsvd agrees with exact within 1e-4 of the update's norm",
          arguments: [(120, 90, 32, 8), (50, 200, 16, 4), (300, 40, 24, 1), (64, 64, 8, 8)])
    func agrees(_ shape: (Int, Int, Int, Int)) throws {
        let (out, inF, r, t) = shape
        let (u, a, b) = try Self.update(out: out, inF: inF, r: r, seed: UInt64(out + inF))
        let ref = try DenseReference(a: a, b: b, rank: r, out: out, in: inF, scale: 2)
        let rs = try ModuleSqueezer(method: .rsvd, policy: .fixed(t)).squeeze(u, name: "m")
        let ex = try ModuleSqueezer(method: .exact, policy: .fixed(t)).squeeze(u)
        #expect(rs.method == .rsvd && !rs.spectrumIsExact)
        let excess = ref.error(a: rs.a, b: rs.b) - ref.optimalError(rank: t)
        #expect(excess <= 1e-4 * ref.norm && excess >= -1e-5 * ref.norm)
        for i in 0..<t { #expect(abs(rs.singularValues[i] - ex.singularValues[i]) <= 1e-4 * ex.singularValues[0]) }
    }

    @Test("the seed makes results reproducible; another seed changes the sketch")
    func seeded() throws {
        let (u, _, _) = try Self.update(out: 80, inF: 70, r: 16, seed: 3, decay: 50)
        let opts = RSVDOptions(oversample: 2, powerIterations: 0, seed: 42)
        let one = try ModuleSqueezer(method: .rsvd, policy: .fixed(4), rsvd: opts).squeeze(u, name: "x")
        let two = try ModuleSqueezer(method: .rsvd, policy: .fixed(4), rsvd: opts).squeeze(u, name: "x")
        #expect(one.a == two.a && one.b == two.b)
        var other = opts
        other.seed = 43
        let three = try ModuleSqueezer(method: .rsvd, policy: .fixed(4), rsvd: other).squeeze(u, name: "x")
        #expect(three.a != one.a)
    }

    @Test("rsvd on a dense delta matches the dense exact SVD")
    func dense() throws {
        let (_, a, b) = try Self.update(out: 70, inF: 60, r: 12, seed: 9)
        let ref = try DenseReference(a: a, b: b, rank: 12, out: 70, in: 60, scale: 2)
        let delta = try DenseUpdate(Matrix(rows: 70, columns: 60, storage: ref.delta.map { Float($0) }))
        let rs = try ModuleSqueezer(method: .rsvd, policy: .fixed(5)).squeeze(dense: delta, name: "d")
        let ex = try ModuleSqueezer(method: .exact, policy: .fixed(5)).squeeze(dense: delta, name: "d")
        #expect(rs.method == .rsvd && ex.method == .exact)
        let best = ref.optimalError(rank: 5)
        #expect(abs(ref.error(a: ex.a, b: ex.b) - best) <= 1e-5 * ref.norm)
        #expect(ref.error(a: rs.a, b: rs.b) - best <= 1e-4 * ref.norm)
    }

    @Test("auto picks exact for typical LoRA shapes and rsvd when the sketch is far narrower than r")
    func auto() {
        let s = ModuleSqueezer(method: .auto, policy: .fixed(16))
        #expect(s.resolvedMethod(out: 2048, in: 2048, rank: 64) == .exact)
        let tiny = ModuleSqueezer(method: .auto, policy: .fixed(1), rsvd: RSVDOptions(oversample: 2, powerIterations: 0))
        #expect(tiny.resolvedMethod(out: 4096, in: 4096, rank: 512) == .rsvd)
        let proj = ModuleSqueezer(method: .auto, policy: .fixed(1), rsvd: RSVDOptions(oversample: 2, powerIterations: 0), projections: true)
        #expect(proj.resolvedMethod(out: 4096, in: 4096, rank: 512) == .exact)
    }
}
