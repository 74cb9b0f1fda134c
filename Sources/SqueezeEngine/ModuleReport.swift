import AdapterFormats

/// What the squeeze did to one module, for summaries, `--json` and the service.
public struct ModuleReport: Sendable, Codable, Equatable {
    public let name: String
    public let kind: LoRAModule.Kind
    public let outFeatures: Int
    public let inFeatures: Int
    public let sourceRank: Int
    /// Directions kept (before zero-padding to the deployment rank).
    public let rank: Int
    /// The rank written (the deployment rank when padding, else `rank`).
    public let writtenRank: Int
    public let method: SqueezeMethod
    public let retainedEnergy: Double
    /// ‖ΔW − B'A'‖_F, and the same relative to ‖ΔW‖_F.
    public let error: Double
    public let relativeError: Double
    public let updateNorm: Double
    public let singularValues: [Double]
    public let spectrumIsExact: Bool
}

extension ModuleReport {
    init(module: LoRAModule, result: SqueezedModule, writtenRank: Int) {
        let norm = result.updateNorm
        self.init(name: module.name, kind: module.kind, outFeatures: module.outFeatures,
                  inFeatures: module.inFeatures, sourceRank: module.rank, rank: result.rank,
                  writtenRank: writtenRank, method: result.method, retainedEnergy: result.retainedEnergy,
                  error: result.errorBound, relativeError: norm > 0 ? result.errorBound / norm : 0,
                  updateNorm: norm, singularValues: result.singularValues,
                  spectrumIsExact: result.spectrumIsExact)
    }
}
