/// The exact method: the truncated SVD of `s·B·A` without forming the out×in matrix.
///
/// With the Gram matrices `G_B = BᵀB` and `G_A = AAᵀ` (r×r, accumulated in double), each factor is
/// orthogonalised implicitly (`GramFactor`): `B = Q_B R_B`, `Aᵀ = Q_A R_A`. Then
/// `s·B·A = Q_B (s R_B R_Aᵀ) Q_Aᵀ`, and the SVD of the small core `s R_B R_Aᵀ = U Σ Wᵀ` gives the
/// update's. The factors come back in one GEMM each: `B' = B · T_B` with `T_B = R_B⁻¹ U_t Σ_t^½` and
/// `A' = T_A · A` with `T_A = Σ_t^½ W_tᵀ R_A⁻ᵀ`. Cost O((out+in)·r²), never O(out·in).
enum FactoredSVD {
    /// The orthogonalised factors and the SVD of the core `s·R_B·R_Aᵀ`.
    struct Core {
        let qb: GramFactor
        let qa: GramFactor
        let u: Matrix<Double>
        let sigma: [Double]
        let wt: Matrix<Double>
    }

    static func core(_ update: LowRankUpdate) throws(SqueezeError) -> Core {
        let gB = try PanelProducts.gramOfColumns(update.b, factor: "lora_B")
        let gA = try PanelProducts.gramOfRows(update.a, factor: "lora_A")
        do throws(LinearAlgebraError) {
            let qb = try GramFactor(gram: gB, depth: update.outFeatures)
            let qa = try GramFactor(gram: gA, depth: update.inFeatures)
            let core = try BLAS.multiply(qb.r, qa.r, transposeB: true, alpha: update.scale)   // kB×kA
            let (u, sigma, wt) = try LAPACK.svd(core)
            return Core(qb: qb, qa: qa, u: u, sigma: sigma, wt: wt)
        } catch {
            throw .linearAlgebra(error)
        }
    }

    static func squeeze(_ update: LowRankUpdate, policy: RankPolicy,
                        wantProjections: Bool) throws(SqueezeError) -> SqueezedModule {
        let c = try core(update)
        do throws(LinearAlgebraError) {
            return try project(update, core: c, policy: policy, wantProjections: wantProjections)
        } catch {
            throw .linearAlgebra(error)
        }
    }

    static func project(_ update: LowRankUpdate, core c: Core, policy: RankPolicy,
                        wantProjections: Bool) throws(LinearAlgebraError) -> SqueezedModule {
        let r = update.rank
        let available = update.availableRank
        let (qb, qa, u, sigma, wt) = (c.qb, c.qa, c.u, c.sigma, c.wt)

        var spectrum = sigma
        if spectrum.count < available { spectrum += Array(repeating: 0, count: available - spectrum.count) }
        let t = max(1, policy.select(singularValues: spectrum, available: available))
        let live = min(t, sigma.count)   // directions with a computed singular vector; the rest are zero

        // T_B = R_B⁻¹ U_t Σ_t^½ (r×t); T_A = Σ_t^½ W_tᵀ R_A⁻ᵀ (t×r). Columns/rows past `live` stay zero.
        var tB = Matrix<Double>(zeros: r, t)
        var tA = Matrix<Double>(zeros: t, r)
        if live > 0 {
            var left = Matrix<Double>(zeros: qb.rank, live)    // U_t Σ_t^½
            for i in 0..<qb.rank { for j in 0..<live { left[i, j] = u[i, j] * sigma[j].squareRoot() } }
            var right = Matrix<Double>(zeros: live, qa.rank)   // Σ_t^½ W_tᵀ
            for i in 0..<live { for j in 0..<qa.rank { right[i, j] = wt[i, j] * sigma[i].squareRoot() } }
            let tBLive = try BLAS.multiply(qb.rInverse, left)                          // r×live
            let tALive = try BLAS.multiply(right, qa.rInverse, transposeB: true)       // live×r
            for i in 0..<r { for j in 0..<live { tB[i, j] = tBLive[i, j] } }
            for i in 0..<live { for j in 0..<r { tA[i, j] = tALive[i, j] } }
        }
        // The projections in double; the factors are rounded to single precision once, at the end.
        let bOut = try PanelProducts.multiply(update.b, by: tB)
        let aOut = try PanelProducts.multiply(tA, update.a)
        let (retained, error) = SqueezedModule.energy(spectrum, keep: t)
        return SqueezedModule(a: aOut, b: bOut, method: .exact, singularValues: spectrum,
                              spectrumIsExact: true, retainedEnergy: retained, errorBound: error,
                              projections: wantProjections ? .init(tA: tA.converted(), tB: tB.converted()) : nil)
    }
}
