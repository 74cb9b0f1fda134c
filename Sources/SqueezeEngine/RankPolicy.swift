/// How many singular directions each module keeps.
public struct RankPolicy: Sendable, Equatable, Codable {
    public enum Rule: Sendable, Equatable, Codable {
        /// Exactly this rank (less only when the update itself has lower rank).
        case fixed(Int)
        /// The smallest k with Σ_{i≤k} σᵢ² ≥ fraction · Σ σᵢ² (PEFT's float rank, kohya's `sv_fro`).
        case energy(Double)
        /// Every σᵢ ≥ fraction · σ₁ (kohya's `sv_ratio`).
        case ratio(Double)
    }

    public var rule: Rule
    /// An upper bound on the selected rank (for `energy` and `ratio`; `fixed` ignores it when larger).
    public var maxRank: Int?

    public init(_ rule: Rule, maxRank: Int? = nil) {
        self.rule = rule
        self.maxRank = maxRank
    }

    public static func fixed(_ rank: Int) -> RankPolicy { RankPolicy(.fixed(rank)) }

    /// Rejects out-of-range parameters before any work is done.
    public func validate() throws(SqueezeError) {
        switch rule {
        case let .fixed(t): if t < 1 { throw .invalidTargetRank(t) }
        case let .energy(f): if !(f > 0 && f <= 1) { throw .invalidEnergy(f) }
        case let .ratio(f): if !(f > 0 && f <= 1) { throw .invalidRatio(f) }
        }
        if let m = maxRank, m < 1 { throw .invalidMaxRank(m) }
    }

    /// The largest rank this policy can ask for; rsvd sizes its sketch from it.
    func ceiling(available: Int) -> Int {
        switch rule {
        case let .fixed(t): return min(t, maxRank ?? t, available)
        case .energy, .ratio: return min(maxRank ?? available, available)
        }
    }

    /// The rank to keep given a spectrum in descending order, capped at `available`
    /// (the most the factors can hold: min(r, out, in)).
    public func select(singularValues s: [Double], available: Int) -> Int {
        let cap = ceiling(available: available)
        switch rule {
        case .fixed:
            return cap
        case let .energy(fraction):
            let total = s.reduce(0) { $0 + $1 * $1 }
            if total == 0 { return min(1, cap) }
            var acc = 0.0
            for (i, v) in s.enumerated() {
                acc += v * v
                if acc >= fraction * total * (1 - 1e-12) { return min(i + 1, cap) }
            }
            return min(s.count, cap)
        case let .ratio(fraction):
            guard let first = s.first, first > 0 else { return min(1, cap) }
            let k = s.prefix { $0 >= fraction * first }.count
            return min(max(k, 1), cap)
        }
    }
}
