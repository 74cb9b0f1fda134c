/// The singular values of a module's update, without squeezing it: the Gram/eigen/core-SVD part of
/// the exact method only. For `inspect` and the service's spectrum endpoint.
public enum Spectrum {
    /// All min(r, out, in) singular values of `scale·B·A`, descending (zeros for a rank-deficient update).
    public static func singularValues(of update: LowRankUpdate) throws(SqueezeError) -> [Double] {
        var s = try FactoredSVD.core(update).sigma
        if s.count < update.availableRank { s += Array(repeating: 0, count: update.availableRank - s.count) }
        return s
    }

    /// Σ_{i≤k} σᵢ² / Σ σᵢ² for k = 1…count (1 for a zero update).
    public static func cumulativeEnergy(_ s: [Double]) -> [Double] {
        let total = s.reduce(0) { $0 + $1 * $1 }
        var acc = 0.0
        return s.map { v in
            acc += v * v
            return total > 0 ? min(1, acc / total) : 1
        }
    }
}
