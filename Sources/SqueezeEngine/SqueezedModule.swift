/// The best (or, for rsvd, near-best) rank-t factors of one module's update, and what was lost.
public struct SqueezedModule: Sendable {
    /// `A'`, t×in, with √σ folded in: `B'·A'` approximates `scale·B·A`, so the new scale is 1.
    public let a: Matrix<Float>
    /// `B'`, out×t, with √σ folded in.
    public let b: Matrix<Float>
    /// The method that ran (never `.auto`).
    public let method: SqueezeMethod
    /// Singular values of the update, descending. `exact`: all min(r, out, in) of them.
    /// `rsvd`: estimates of the leading ones (the sketch's size), see `spectrumIsExact`.
    public let singularValues: [Double]
    public let spectrumIsExact: Bool
    /// Σ_{i≤t} σᵢ² / Σ σᵢ² (1 for a zero update). For rsvd, relative to the estimated spectrum.
    public let retainedEnergy: Double
    /// The Frobenius error ‖ΔW − B'A'‖ = √(Σ_{i>t} σᵢ²), Eckart–Young's optimum (estimated for rsvd).
    public let errorBound: Double
    /// `T_A` (t×r) and `T_B` (r×t) with `A' = T_A·A` and `B' = B·T_B`, when requested: a trainer
    /// annealing the rank maps its optimizer moments through them.
    public let projections: Projections?

    public struct Projections: Sendable {
        public let tA: Matrix<Float>
        public let tB: Matrix<Float>
    }

    public var rank: Int { a.rows }

    /// The Frobenius norm of the update, √Σσᵢ².
    public var updateNorm: Double { singularValues.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    static func energy(_ s: [Double], keep t: Int) -> (retained: Double, error: Double) {
        let total = s.reduce(0) { $0 + $1 * $1 }
        let tail = s.dropFirst(t).reduce(0) { $0 + $1 * $1 }
        return (total > 0 ? max(0, 1 - tail / total) : 1, tail.squareRoot())
    }
}
