import ArgumentParser
import AdapterFormats
import SqueezeEngine

/// The squeeze's numerical options, shared by `squeeze`, `demo` and `bench`.
struct SqueezeOptions: ParsableArguments {
    @Option(help: "Method: auto (the cheaper for each module's shapes), exact (factored SVD), rsvd (randomized SVD).")
    var method: SqueezeMethod = .auto

    @Option(help: "Keep per module the smallest rank holding this fraction of Σσ² (0 < F ≤ 1), capped by --max-rank.")
    var energy: Double?

    @Option(help: "Keep per module every σᵢ ≥ F·σ₁ (0 < F ≤ 1), capped by --max-rank.")
    var ratio: Double?

    @Option(name: .customLong("max-rank"), help: "Upper bound on a module's rank under --energy/--ratio (default: --rank).")
    var maxRank: Int?

    @Option(help: "rsvd oversampling p (sketch of t + p columns).")
    var oversample: Int = 10

    @Option(name: .customLong("power-iters"), help: "rsvd power (subspace) iterations q.")
    var powerIterations: Int = 2

    @Option(help: "rsvd seed; results reproduce for the same seed.")
    var seed: UInt64 = 0

    @Option(help: "Modules squeezed at once (default: the number of cores).")
    var threads: Int?

    func policy(rank: Int?) throws -> RankPolicy {
        if energy != nil && ratio != nil { throw ValidationError("--energy and --ratio cannot be used together") }
        if let f = energy { return RankPolicy(.energy(f), maxRank: maxRank ?? rank) }
        if let f = ratio { return RankPolicy(.ratio(f), maxRank: maxRank ?? rank) }
        guard let r = rank else { throw ValidationError("give --rank R, or --energy/--ratio with --no-pad") }
        if maxRank != nil { throw ValidationError("--max-rank only applies with --energy or --ratio") }
        return .fixed(r)
    }

    func squeezer(rank: Int?, pad: Bool, dtype: DType?, projections: Bool = false) throws -> AdapterSqueezer {
        let module = ModuleSqueezer(method: method, policy: try policy(rank: rank),
                                    rsvd: RSVDOptions(oversample: oversample, powerIterations: powerIterations, seed: seed),
                                    projections: projections)
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        let s = AdapterSqueezer(module: module, deploymentRank: pad ? rank : nil, dtype: dtype,
                                workers: threads ?? AdapterSqueezer(module: module, deploymentRank: nil).workers)
        do { try s.validate() } catch { throw ValidationError(error.description) }
        return s
    }
}

extension SqueezeMethod: ExpressibleByArgument {}

/// `--dtype f32|f16|bf16`.
enum OutputDType: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16
    var dtype: DType {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        }
    }
}
