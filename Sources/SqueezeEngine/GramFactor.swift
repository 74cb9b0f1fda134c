/// A factor orthogonalised through its Gram matrix: `factor = Q · R` with orthonormal `Q`, known
/// implicitly as `Q = factor · rInverse`. `R` is k×n and `rInverse` n×k, where k ≤ n counts the
/// directions the factor really spans.
///
/// Cholesky first (`G = RᵀR`, r³/3 flops): exact for a well-conditioned factor. A rank-deficient or
/// ill-conditioned factor (a fresh LoRA's B = 0, duplicated columns, more rank than rows) falls back
/// to the eigen-decomposition `G = V Λ Vᵀ`, `R = Λ^½ Vᵀ`, dropping directions whose eigenvalue is at
/// rounding level — what a pivoted factorisation would do.
struct GramFactor {
    let r: Matrix<Double>
    let rInverse: Matrix<Double>
    /// Which path produced it (tests check both are exercised).
    let usedCholesky: Bool

    var rank: Int { r.rows }

    /// Cholesky is kept when its triangle's condition number is below this: the Gram's then has at
    /// most 1e12, leaving four digits of double precision to spare for the Gram's own rounding.
    static let maxCholeskyCondition = 1e6

    init(gram g: Matrix<Double>, depth: Int) throws(LinearAlgebraError) {
        if let chol = try LAPACK.cholesky(g),
           try LAPACK.triangularReciprocalCondition(chol) * Self.maxCholeskyCondition >= 1 {
            r = chol
            rInverse = try LAPACK.triangularInverse(chol)
            usedCholesky = true
            return
        }
        let (values, vectors) = try LAPACK.symmetricEigen(g)
        let n = g.rows
        let largest = values.last ?? 0
        // Rounding in a Gram sum of `depth` products is about depth·ε·λmax; below that a direction is noise.
        let floor = largest * Double(max(depth, n)) * Double.ulpOfOne
        let kept = (0..<n).reversed().filter { values[$0] > floor && values[$0] > 0 }
        var r = Matrix<Double>(zeros: kept.count, n)
        var inverse = Matrix<Double>(zeros: n, kept.count)
        for (j, col) in kept.enumerated() {
            let root = values[col].squareRoot()
            for i in 0..<n {
                r[j, i] = root * vectors[i, col]
                inverse[i, j] = vectors[i, col] / root
            }
        }
        self.r = r
        self.rInverse = inverse
        usedCholesky = false
    }
}
