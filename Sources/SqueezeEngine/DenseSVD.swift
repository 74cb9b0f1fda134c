/// The exact method for a dense update: a full thin SVD in double precision (`dgesdd`).
/// O(out·in·min(out, in)); the randomized method is usually cheaper for a dense delta.
enum DenseSVD {
    static func squeeze(_ update: DenseUpdate, policy: RankPolicy) throws(LinearAlgebraError) -> SqueezedModule {
        let x = update.matrix
        let (u, sigma, vt) = try LAPACK.svd(x)
        let t = max(1, policy.select(singularValues: sigma, available: sigma.count))
        let live = min(t, sigma.count)
        var bOut = Matrix<Float>(zeros: x.rows, t)
        var aOut = Matrix<Float>(zeros: t, x.columns)
        for j in 0..<live {
            let root = sigma[j].squareRoot()
            for i in 0..<x.rows { bOut[i, j] = Float(u[i, j] * root) }
            for i in 0..<x.columns { aOut[j, i] = Float(vt[j, i] * root) }
        }
        let (retained, error) = SqueezedModule.energy(sigma, keep: t)
        return SqueezedModule(a: aOut, b: bOut, method: .exact, singularValues: sigma,
                              spectrumIsExact: true, retainedEnergy: retained, errorBound: error,
                              projections: nil)
    }
}
