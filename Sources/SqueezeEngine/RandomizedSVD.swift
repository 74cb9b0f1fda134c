/// Randomized SVD (Halko, Martinsson & Tropp 2011, Algorithms 4.4 and 5.1), the paper's method:
/// sketch the range with a seeded Gaussian test matrix of `t + p` columns, refine it with `q`
/// re-orthonormalised subspace iterations, and take the SVD of the small projected matrix.
enum RandomizedSVD {
    static func squeeze(_ op: LinearOperator, policy: RankPolicy, options: RSVDOptions,
                        seed: UInt64) throws(LinearAlgebraError) -> SqueezedModule {
        let (m, n) = (op.rows, op.columns)
        let available: Int
        switch op {
        case let .factored(a, _, _): available = min(a.rows, m, n)
        case let .dense(x): available = min(x.rows, x.columns)
        }
        let ceiling = max(1, policy.ceiling(available: available))
        let sketch = min(ceiling + options.oversample, m, n)
        guard sketch > 0 else {
            return SqueezedModule(a: Matrix(zeros: 1, n), b: Matrix(zeros: m, 1), method: .rsvd,
                                  singularValues: [], spectrumIsExact: false, retainedEnergy: 1,
                                  errorBound: 0, projections: nil)
        }
        var generator = GaussianGenerator(seed: seed)
        let omega = generator.matrix(n, sketch)
        var q = try LAPACK.orthonormalColumns(try op.apply(omega))                  // m×l
        for _ in 0..<options.powerIterations {
            let z = try LAPACK.orthonormalColumns(try op.applyTransposed(q))      // n×l
            q = try LAPACK.orthonormalColumns(try op.apply(z))                    // m×l
        }
        // The projected matrix Qᵀ·X, l×n, taken as (Xᵀ·Q)ᵀ; its SVD in double.
        let small = try op.applyTransposed(q).transposed
        let (u, sigma, vt) = try LAPACK.svd(small)
        let t = max(1, policy.select(singularValues: sigma, available: min(available, sigma.count)))
        let live = min(t, sigma.count)
        // B' = Q · U_t Σ_t^½ (m×t), A' = Σ_t^½ V_tᵀ (t×n).
        var left = Matrix<Double>(zeros: sketch, t)
        for i in 0..<sketch { for j in 0..<live { left[i, j] = u[i, j] * sigma[j].squareRoot() } }
        var aOut = Matrix<Float>(zeros: t, n)
        for i in 0..<live {
            let root = sigma[i].squareRoot()
            for j in 0..<n { aOut[i, j] = Float(vt[i, j] * root) }
        }
        let bOut: Matrix<Float> = try BLAS.multiply(q, left).converted()
        let (retained, error) = SqueezedModule.energy(sigma, keep: t)
        return SqueezedModule(a: aOut, b: bOut, method: .rsvd, singularValues: sigma,
                              spectrumIsExact: false, retainedEnergy: retained, errorBound: error,
                              projections: nil)
    }
}
