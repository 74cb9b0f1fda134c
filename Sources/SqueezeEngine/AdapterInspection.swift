import AdapterFormats

/// What `inspect` (and the service's adapter description) reports: every module's shape, rank,
/// dtype and scale with the energy its update keeps at ranks 1, 2, 4, …, r, and the whole adapter's
/// size and kept energy at each candidate deployment rank.
public struct AdapterInspection: Sendable, Codable, Equatable {
    public struct Module: Sendable, Codable, Equatable {
        public let name: String
        public let kind: LoRAModule.Kind
        public let outFeatures: Int
        public let inFeatures: Int
        public let rank: Int
        public let dtype: String
        public let alpha: Double
        public let scale: Double
        /// Energy kept (Σ_{i≤k}σᵢ²/Σσᵢ²) at k = `ranks[i]`.
        public let ranks: [Int]
        public let energy: [Double]
        public let singularValues: [Double]
    }

    public struct Candidate: Sendable, Codable, Equatable {
        public let rank: Int
        /// The weights' size with every module at this rank, in each module's dtype.
        public let bytes: Int
        public let meanEnergy: Double
        public let minEnergy: Double
    }

    public let format: String
    public let baseModel: String?
    public let modules: [Module]
    public let bytes: Int
    public let candidates: [Candidate]

    public init(adapter: LoRAAdapter, spectra: [[Double]]) {
        precondition(spectra.count == adapter.modules.count)
        format = adapter.format.name
        baseModel = adapter.peftConfig?.baseModel
        var mods: [Module] = []
        for (m, s) in zip(adapter.modules, spectra) {
            let cumulative = Spectrum.cumulativeEnergy(s)
            let ranks = AdapterInspector.candidateRanks(upTo: m.rank)
            let energy = ranks.map { k in k >= cumulative.count ? 1 : cumulative[k - 1] }
            mods.append(Module(name: m.name, kind: m.kind, outFeatures: m.outFeatures, inFeatures: m.inFeatures,
                               rank: m.rank, dtype: m.dtype.rawValue, alpha: m.alpha, scale: m.scale,
                               ranks: ranks, energy: energy, singularValues: s))
        }
        modules = mods
        bytes = adapter.modules.reduce(0) { $0 + $1.aTensor.byteRange.count + $1.bTensor.byteRange.count }
        let maxRank = adapter.modules.map(\.rank).max() ?? 1
        candidates = AdapterInspector.candidateRanks(upTo: maxRank).map { k in
            let energies = zip(adapter.modules, spectra).map { _, s -> Double in
                let c = Spectrum.cumulativeEnergy(s)
                return k >= c.count ? 1 : c[k - 1]
            }
            let size = adapter.modules.reduce(0) { $0 + $1.parameterCount(atRank: k) * $1.dtype.byteWidth }
            return Candidate(rank: k, bytes: size,
                             meanEnergy: energies.isEmpty ? 1 : energies.reduce(0, +) / Double(energies.count),
                             minEnergy: energies.min() ?? 1)
        }
    }
}
