/// Squeezes one module: resolves `auto`, validates the options, runs the chosen method.
public struct ModuleSqueezer: Sendable {
    public var method: SqueezeMethod
    public var policy: RankPolicy
    public var rsvd: RSVDOptions
    /// Also return `T_A`, `T_B` (exact method only).
    public var projections: Bool

    public init(method: SqueezeMethod = .auto, policy: RankPolicy, rsvd: RSVDOptions = .init(),
                projections: Bool = false) {
        self.method = method
        self.policy = policy
        self.rsvd = rsvd
        self.projections = projections
    }

    /// Rejects bad parameters once, before any module is touched.
    public func validate() throws(SqueezeError) {
        try policy.validate()
        _ = try rsvd.validated()
        if projections && method == .rsvd { throw .projectionsNeedExact }
    }

    /// The method `auto` resolves to for a factored update of these shapes.
    public func resolvedMethod(out: Int, in inF: Int, rank r: Int) -> SqueezeMethod {
        switch method {
        case .exact, .rsvd: return method
        case .auto:
            if projections { return .exact }
            let available = min(r, out, inF)
            let t = max(1, policy.ceiling(available: available))
            let l = min(t + rsvd.oversample, out, inF)
            let exact = CostModel.exact(out: out, in: inF, rank: r, target: t)
            let randomized = CostModel.rsvd(out: out, in: inF, rank: r, sketch: l, powerIterations: rsvd.powerIterations)
            return randomized < exact ? .rsvd : .exact
        }
    }

    /// Squeezes `scale·B·A`. `name` seeds the module's own random stream (rsvd).
    public func squeeze(_ update: LowRankUpdate, name: String = "") throws(SqueezeError) -> SqueezedModule {
        try validate()
        switch resolvedMethod(out: update.outFeatures, in: update.inFeatures, rank: update.rank) {
        case .rsvd:
            let (a, b) = try update.materialized()
            do throws(LinearAlgebraError) {
                return try RandomizedSVD.squeeze(.factored(a: a, b: b, scale: update.scale), policy: policy,
                                                 options: rsvd, seed: GaussianGenerator.mix(seed: rsvd.seed, name: name))
            } catch {
                throw .linearAlgebra(error)
            }
        case .exact, .auto:
            return try FactoredSVD.squeeze(update, policy: policy, wantProjections: projections)
        }
    }

    /// Squeezes a dense update (full fine-tune minus base) into LoRA factors.
    public func squeeze(dense update: DenseUpdate, name: String = "") throws(SqueezeError) -> SqueezedModule {
        try policy.validate()
        _ = try rsvd.validated()
        if projections { throw .projectionsNeedExact }
        let (m, n) = (update.matrix.rows, update.matrix.columns)
        var chosen = method
        if method == .auto {
            let t = max(1, policy.ceiling(available: min(m, n)))
            let l = min(t + rsvd.oversample, m, n)
            chosen = CostModel.denseRSVD(rows: m, columns: n, sketch: l, powerIterations: rsvd.powerIterations)
                < CostModel.denseExact(rows: m, columns: n) ? .rsvd : .exact
        }
        do {
            if chosen == .rsvd {
                return try RandomizedSVD.squeeze(.dense(update.matrix), policy: policy, options: rsvd,
                                                 seed: GaussianGenerator.mix(seed: rsvd.seed, name: name))
            }
            return try DenseSVD.squeeze(update, policy: policy)
        } catch {
            throw .linearAlgebra(error)
        }
    }
}
