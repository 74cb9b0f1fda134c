import Foundation
import Testing
@testable import SqueezeEngine
import TestSupport

/// Shapes for the optimality table: (out, in, r, t) with the awkward ones named.
struct Shape: CustomTestStringConvertible, Sendable {
    let out: Int, inF: Int, r: Int, t: Int, label: String
    init(_ out: Int, _ inF: Int, _ r: Int, _ t: Int, _ label: String) {
        (self.out, self.inF, self.r, self.t, self.label) = (out, inF, r, t, label)
    }
    var testDescription: String { "\(label) out=\(out) in=\(inF) r=\(r) t=\(t)" }
}

@Suite("Exact factored SVD against a dense LAPACK SVD")
struct FactoredSVDTests {
    static let shapes: [Shape] = [
        Shape(20, 30, 8, 3, "typical"), Shape(64, 48, 16, 4, "wider r"),
        Shape(5, 40, 8, 2, "out < r"), Shape(40, 5, 8, 4, "in < r"), Shape(3, 4, 8, 8, "t > min(out, in)"),
        Shape(30, 30, 16, 1, "t = 1"), Shape(30, 30, 16, 16, "t = r"), Shape(17, 23, 6, 10, "t > r"),
        Shape(1, 50, 4, 2, "out = 1"), Shape(50, 1, 4, 2, "in = 1"), Shape(200, 120, 32, 8, "larger"),
    ]

    // Tolerance: factors are float32, so the squeezed factors carry relative rounding of a few
    // ulps of float (~1e-7) times √r; 1e-5 of ‖ΔW‖ leaves two orders of margin and would still catch
    // a wrong subspace (which costs at least σ_{t+1}-sized error, far above it on these spectra).
    static let tolerance = 1e-5

    @Test("optimal rank-t error, exact spectrum", arguments: shapes)
    func optimal(_ s: Shape) throws {
        let (a, b) = LoRAFactorsFixture.make(out: s.out, in: s.inF, rank: s.r, decay: 3, seed: UInt64(s.out * 1000 + s.inF))
        let scale = 2.5
        let update = try LowRankUpdate(a: Matrix(rows: s.r, columns: s.inF, storage: a),
                                       b: Matrix(rows: s.out, columns: s.r, storage: b), scale: scale)
        let result = try ModuleSqueezer(method: .exact, policy: .fixed(s.t)).squeeze(update)
        let ref = try DenseReference(a: a, b: b, rank: s.r, out: s.out, in: s.inF, scale: scale)
        let expectedRank = min(s.t, s.r, s.out, s.inF)
        #expect(result.rank == expectedRank)
        #expect(result.a.shape == [expectedRank, s.inF])
        #expect(result.b.shape == [s.out, expectedRank])
        #expect(result.method == .exact)
        let err = ref.error(a: result.a, b: result.b)
        let best = ref.optimalError(rank: expectedRank)
        #expect(abs(err - best) <= Self.tolerance * ref.norm, "error \(err) vs optimal \(best), norm \(ref.norm)")
        // The reported spectrum is the dense one.
        #expect(result.singularValues.count == min(s.r, s.out, s.inF))
        for (x, y) in zip(result.singularValues, ref.singularValues) {
            #expect(abs(x - y) <= 1e-6 * ref.singularValues[0])
        }
        #expect(abs(result.errorBound - best) <= Self.tolerance * ref.norm)
    }

    @Test("B = 0 (a freshly initialised LoRA) squeezes to zero factors")
    func zeroB() throws {
        let (a, _) = LoRAFactorsFixture.make(out: 12, in: 10, rank: 4, seed: 3)
        let update = try LowRankUpdate(a: Matrix(rows: 4, columns: 10, storage: a),
                                       b: Matrix<Float>(zeros: 12, 4), scale: 2)
        let r = try ModuleSqueezer(method: .exact, policy: .fixed(2)).squeeze(update)
        #expect(r.rank == 2)
        #expect(r.a.storage.allSatisfy { $0 == 0 } && r.b.storage.allSatisfy { $0 == 0 })
        #expect(r.singularValues == [0, 0, 0, 0])
        #expect(r.retainedEnergy == 1)
        #expect(r.errorBound == 0)
    }

    @Test("both factors zero")
    func bothZero() throws {
        let update = try LowRankUpdate(a: Matrix<Float>(zeros: 3, 5), b: Matrix<Float>(zeros: 4, 3), scale: 1)
        let r = try ModuleSqueezer(method: .exact, policy: .fixed(2)).squeeze(update)
        #expect(r.a.storage.allSatisfy { $0 == 0 } && r.b.storage.allSatisfy { $0 == 0 })
    }

    @Test("duplicated columns of B and rows of A (rank-deficient factors)")
    func duplicated() throws {
        let (out, inF, r) = (24, 20, 6)
        var (a, b) = LoRAFactorsFixture.make(out: out, in: inF, rank: r, decay: 100, seed: 11)
        for i in 0..<out { b[i * r + 5] = b[i * r + 4]; b[i * r + 3] = b[i * r + 0] }
        for j in 0..<inF { a[2 * inF + j] = a[1 * inF + j] }
        let update = try LowRankUpdate(a: Matrix(rows: r, columns: inF, storage: a),
                                       b: Matrix(rows: out, columns: r, storage: b), scale: 1)
        let ref = try DenseReference(a: a, b: b, rank: r, out: out, in: inF, scale: 1)
        for t in 1...r {
            let res = try ModuleSqueezer(method: .exact, policy: .fixed(t)).squeeze(update)
            let err = ref.error(a: res.a, b: res.b)
            #expect(abs(err - ref.optimalError(rank: t)) <= Self.tolerance * ref.norm, "t=\(t)")
        }
    }

    @Test("ill-conditioned factors (condition number 1e4) stay optimal")
    func illConditioned() throws {
        let (out, inF, r) = (60, 50, 10)
        var (a, b) = LoRAFactorsFixture.make(out: out, in: inF, rank: r, decay: 1e6, seed: 5)
        for k in 0..<r {
            let s = Float(pow(10.0, -4.0 * Double(k) / Double(r - 1)))
            for i in 0..<out { b[i * r + k] *= s }
        }
        let update = try LowRankUpdate(a: Matrix(rows: r, columns: inF, storage: a),
                                       b: Matrix(rows: out, columns: r, storage: b), scale: 1)
        let ref = try DenseReference(a: a, b: b, rank: r, out: out, in: inF, scale: 1)
        for t in [1, 3, 5, 9] {
            let res = try ModuleSqueezer(method: .exact, policy: .fixed(t)).squeeze(update)
            #expect(abs(ref.error(a: res.a, b: res.b) - ref.optimalError(rank: t)) <= Self.tolerance * ref.norm)
        }
    }

    @Test("projections: A' = T_A·A and B' = B·T_B")
    func projections() throws {
        let (a, b) = LoRAFactorsFixture.make(out: 30, in: 26, rank: 8, seed: 21)
        let update = try LowRankUpdate(a: Matrix(rows: 8, columns: 26, storage: a),
                                       b: Matrix(rows: 30, columns: 8, storage: b), scale: 0.5)
        let r = try ModuleSqueezer(method: .exact, policy: .fixed(3), projections: true).squeeze(update)
        let p = try #require(r.projections)
        #expect(p.tA.shape == [3, 8] && p.tB.shape == [8, 3])
        // Independently: the products T_A·A and B·T_B by loops in double, against the squeezed factors
        // (rounded once to float, and T_A, T_B themselves are float: a few float ulps of the factor scale).
        let scaleA = r.a.storage.map { abs(Double($0)) }.max()!, scaleB = r.b.storage.map { abs(Double($0)) }.max()!
        for i in 0..<3 {
            for j in 0..<26 {
                let v = (0..<8).reduce(0.0) { $0 + Double(p.tA[i, $1]) * Double(a[$1 * 26 + j]) }
                #expect(abs(v - Double(r.a[i, j])) <= 1e-6 * scaleA)
            }
        }
        for i in 0..<30 {
            for j in 0..<3 {
                let v = (0..<8).reduce(0.0) { $0 + Double(b[i * 8 + $1]) * Double(p.tB[$1, j]) }
                #expect(abs(v - Double(r.b[i, j])) <= 1e-6 * scaleB)
            }
        }
    }

    @Test("√σ on each side: ‖A'ᵢ‖ = ‖B'ᵢ‖ = √σᵢ")
    func balanced() throws {
        let (a, b) = LoRAFactorsFixture.make(out: 40, in: 32, rank: 8, seed: 8)
        let update = try LowRankUpdate(a: Matrix(rows: 8, columns: 32, storage: a),
                                       b: Matrix(rows: 40, columns: 8, storage: b), scale: 3)
        let r = try ModuleSqueezer(method: .exact, policy: .fixed(4)).squeeze(update)
        for i in 0..<4 {
            let rowA = (0..<32).reduce(0.0) { $0 + Double(r.a[i, $1]) * Double(r.a[i, $1]) }.squareRoot()
            let colB = (0..<40).reduce(0.0) { $0 + Double(r.b[$1, i]) * Double(r.b[$1, i]) }.squareRoot()
            let root = r.singularValues[i].squareRoot()
            #expect(abs(rowA - root) <= 1e-5 * root && abs(colB - root) <= 1e-5 * root)
        }
    }
}
