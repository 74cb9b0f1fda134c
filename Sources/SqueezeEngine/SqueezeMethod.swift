/// How a module's truncated SVD is computed.
public enum SqueezeMethod: String, Sendable, CaseIterable, Codable {
    /// Pick the cheaper of `exact` and `rsvd` for the shapes at hand (see `CostModel`).
    case auto
    /// Factored SVD: orthogonalise both factors through their Gram matrices, SVD the r×r core.
    /// Never forms the out×in update; O((out+in)·r²). Optimal to rounding.
    case exact
    /// Randomized SVD (Halko, Martinsson & Tropp 2011), as in the LoRA-Squeeze paper,
    /// applied to the factored operator (or to a dense update).
    case rsvd
}

/// Parameters of the randomized SVD.
public struct RSVDOptions: Sendable, Equatable, Codable {
    /// The sketch has `target + oversample` columns (the paper's p; 10 by default).
    public var oversample: Int
    /// Subspace (power) iterations q, re-orthonormalised each time; 2 by default.
    public var powerIterations: Int
    /// Seeds the Gaussian test matrix; each module mixes in its own name, so results reproduce.
    public var seed: UInt64

    public static let maxOversample = 1024
    public static let maxPowerIterations = 32

    public init(oversample: Int = 10, powerIterations: Int = 2, seed: UInt64 = 0) {
        self.oversample = oversample
        self.powerIterations = powerIterations
        self.seed = seed
    }

    func validated() throws(SqueezeError) -> RSVDOptions {
        guard (0...Self.maxOversample).contains(oversample) else { throw .invalidOversample(oversample) }
        guard (0...Self.maxPowerIterations).contains(powerIterations) else {
            throw .invalidPowerIterations(powerIterations)
        }
        return self
    }
}
