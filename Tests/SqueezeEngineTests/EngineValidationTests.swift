import Testing
@testable import SqueezeEngine
import TestSupport

@Suite("Engine input checks and rank policies")
struct EngineValidationTests {
    @Test("NaN and Inf in a factor are refused, naming the factor")
    func nonFinite() throws {
        var a = [Float](repeating: 1, count: 6)
        a[4] = .nan
        #expect(throws: SqueezeError.self) {
            _ = try LowRankUpdate(a: Matrix(rows: 2, columns: 3, storage: a), b: Matrix(zeros: 2, 2), scale: 1)
        }
        do {
            var b = [Float](repeating: 0, count: 4)
            b[1] = .infinity
            _ = try LowRankUpdate(a: Matrix<Float>(zeros: 2, 3), b: Matrix(rows: 2, columns: 2, storage: b), scale: 1)
            Issue.record("Inf accepted")
        } catch let e as SqueezeError {
            #expect(e == .nonFinite(factor: "lora_B", index: 1))
            #expect(e.description.contains("lora_B"))
        }
    }

    @Test("A and B must agree on the rank")
    func rankMismatch() {
        #expect(throws: SqueezeError.rankMismatch(aRows: 4, bColumns: 3)) {
            _ = try LowRankUpdate(a: Matrix<Float>(zeros: 4, 5), b: Matrix<Float>(zeros: 6, 3), scale: 1)
        }
    }

    @Test("bad options are refused before any work",
          arguments: [RankPolicy.fixed(0), RankPolicy(.energy(0)), RankPolicy(.energy(1.5)),
                      RankPolicy(.ratio(-0.1)), RankPolicy(.energy(0.9), maxRank: 0)])
    func badPolicy(_ p: RankPolicy) {
        #expect(throws: SqueezeError.self) { try ModuleSqueezer(policy: p).validate() }
    }

    @Test("rsvd option bounds: at the limit accepted, one past refused")
    func rsvdBounds() throws {
        try ModuleSqueezer(policy: .fixed(1), rsvd: .init(oversample: RSVDOptions.maxOversample,
                                                          powerIterations: RSVDOptions.maxPowerIterations)).validate()
        #expect(throws: SqueezeError.invalidOversample(RSVDOptions.maxOversample + 1)) {
            try ModuleSqueezer(policy: .fixed(1), rsvd: .init(oversample: RSVDOptions.maxOversample + 1)).validate()
        }
        #expect(throws: SqueezeError.invalidPowerIterations(RSVDOptions.maxPowerIterations + 1)) {
            try ModuleSqueezer(policy: .fixed(1), rsvd: .init(powerIterations: RSVDOptions.maxPowerIterations + 1)).validate()
        }
        #expect(throws: SqueezeError.projectionsNeedExact) {
            try ModuleSqueezer(method: .rsvd, policy: .fixed(1), projections: true).validate()
        }
    }

    @Test("energy rule: smallest k with Σσ² ≥ f·total")
    func energy() {
        let s: [Double] = [4, 2, 1, 1]   // squares 16, 4, 1, 1: total 22
        #expect(RankPolicy(.energy(16.0 / 22)).select(singularValues: s, available: 4) == 1)
        #expect(RankPolicy(.energy(16.5 / 22)).select(singularValues: s, available: 4) == 2)
        #expect(RankPolicy(.energy(20.0 / 22)).select(singularValues: s, available: 4) == 2)
        #expect(RankPolicy(.energy(21.0 / 22)).select(singularValues: s, available: 4) == 3)
        #expect(RankPolicy(.energy(1)).select(singularValues: s, available: 4) == 4)
        #expect(RankPolicy(.energy(1), maxRank: 2).select(singularValues: s, available: 4) == 2)
        #expect(RankPolicy(.energy(0.5)).select(singularValues: [0, 0], available: 2) == 1)
    }

    @Test("ratio rule: every σᵢ ≥ f·σ₁, capped by max rank")
    func ratio() {
        let s: [Double] = [10, 5, 2, 1]
        #expect(RankPolicy(.ratio(0.5)).select(singularValues: s, available: 4) == 2)
        #expect(RankPolicy(.ratio(0.2)).select(singularValues: s, available: 4) == 3)
        #expect(RankPolicy(.ratio(0.05)).select(singularValues: s, available: 4) == 4)
        #expect(RankPolicy(.ratio(0.05), maxRank: 3).select(singularValues: s, available: 4) == 3)
        #expect(RankPolicy(.fixed(8)).select(singularValues: s, available: 4) == 4)
    }

    @Test("energy policy on the exact path keeps the requested energy")
    func energyEndToEnd() throws {
        let (a, b) = LoRAFactorsFixture.make(out: 40, in: 30, rank: 12, decay: 2, seed: 4)
        let u = try LowRankUpdate(a: Matrix(rows: 12, columns: 30, storage: a),
                                  b: Matrix(rows: 40, columns: 12, storage: b), scale: 1)
        let r = try ModuleSqueezer(method: .exact, policy: RankPolicy(.energy(0.9))).squeeze(u)
        #expect(r.retainedEnergy >= 0.9)
        let fewer = SqueezedModule.energy(r.singularValues, keep: r.rank - 1).retained
        #expect(fewer < 0.9)
    }

    @Test("the Gaussian generator is deterministic and roughly standard")
    func gaussian() {
        var g = GaussianGenerator(seed: 1)
        let xs = (0..<20000).map { _ in Double(g.next()) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        var h = GaussianGenerator(seed: 1)
        #expect(h.next() == xs[0])
    }
}
