import AdapterFormats
import HTTPServer
import SqueezeEngine

/// A squeeze as a URL asks for it: rank from the path, options from the query, validated, with the
/// canonical options string that keys the cache.
struct SqueezeRequest: Sendable, Equatable {
    var rank: Int
    var method: SqueezeMethod = .auto
    var dtype: DType?
    var energy: Double?
    var oversample = 10
    var powerIterations = 2
    var seed: UInt64 = 0

    /// The query parameters a squeeze accepts.
    static let parameters = ["method", "dtype", "energy", "oversample", "power_iters", "seed"]

    init(rank: Int, method: SqueezeMethod = .auto, dtype: DType? = nil, energy: Double? = nil) {
        self.rank = rank
        self.method = method
        self.dtype = dtype
        self.energy = energy
    }

    init(rankText: String, request: HTTPRequest, maxRank: Int) throws {
        guard let r = Int(rankText), (1...maxRank).contains(r) else {
            throw ServiceError.badRequest("rank \"\(rankText.prefix(40))\" must be an integer from 1 to \(maxRank)", type: "invalid-rank")
        }
        rank = r
        try apply(query: { request.queryValue($0) })
    }

    /// An output dtype as requests spell it (`f32`, `f16`, `bf16`, any case); 400 `invalid-options` otherwise.
    static func outputDType(_ text: String) throws -> DType {
        guard let parsed = ["f32": DType.f32, "f16": .f16, "bf16": .bf16][text.lowercased()] else {
            throw ServiceError.badRequest("dtype \"\(text.prefix(40))\" must be f32, f16 or bf16", type: "invalid-options")
        }
        return parsed
    }

    /// Reads the options from `value(name)` (a query string or a JSON body's fields).
    mutating func apply(query value: (String) -> String?) throws {
        if let m = value("method") {
            guard let parsed = SqueezeMethod(rawValue: m) else {
                throw ServiceError.badRequest("method \"\(m.prefix(40))\" must be auto, exact or rsvd", type: "invalid-options")
            }
            method = parsed
        }
        if let d = value("dtype") { dtype = try Self.outputDType(d) }
        if let e = value("energy") {
            guard let f = Double(e), f > 0, f <= 1 else {
                throw ServiceError.badRequest("energy \"\(e.prefix(40))\" must be a number in (0, 1]", type: "invalid-options")
            }
            energy = f
        }
        if let p = value("oversample") {
            guard let v = Int(p), (0...RSVDOptions.maxOversample).contains(v) else {
                throw ServiceError.badRequest("oversample must be an integer from 0 to \(RSVDOptions.maxOversample)", type: "invalid-options")
            }
            oversample = v
        }
        if let q = value("power_iters") {
            guard let v = Int(q), (0...RSVDOptions.maxPowerIterations).contains(v) else {
                throw ServiceError.badRequest("power_iters must be an integer from 0 to \(RSVDOptions.maxPowerIterations)", type: "invalid-options")
            }
            powerIterations = v
        }
        if let s = value("seed") {
            guard let v = UInt64(s) else { throw ServiceError.badRequest("seed must be a non-negative integer", type: "invalid-options") }
            seed = v
        }
    }

    /// The cache key's options: every setting that can change the output's bytes, spelled out in a
    /// fixed order. The exact method's output does not depend on rsvd's oversample, power iterations
    /// or seed, so they are not part of its key (`canonical(for:)` also turns an `auto` that runs
    /// exact everywhere into `exact`).
    var canonicalOptions: String {
        let e = energy.map { String($0) } ?? "-"
        let base = "method=\(method.rawValue);dtype=\(dtype?.rawValue ?? "input");energy=\(e)"
        return method == .exact ? base : base + ";oversample=\(oversample);power_iters=\(powerIterations);seed=\(seed)"
    }

    /// This request as it determines the output's bytes for an adapter described by `inspection`:
    /// a dtype every module already has is the default (one cache entry, not two), and `auto` is
    /// `exact` when every module would run the exact method — then, like `exact`, it is one entry
    /// whatever seed, oversampling or power iterations were asked for.
    func canonical(for inspection: AdapterInspection) -> SqueezeRequest {
        var r = self
        if let d = dtype, Set(inspection.modules.map(\.dtype)) == [d.rawValue] { r.dtype = nil }
        if method == .auto {
            let module = squeezer(workers: 1).module
            let allExact = inspection.modules.allSatisfy {
                module.resolvedMethod(out: $0.outFeatures, in: $0.inFeatures, rank: $0.rank) == .exact
            }
            if allExact { r.method = .exact }
        }
        if r.method == .exact {
            r.oversample = 10
            r.powerIterations = 2
            r.seed = 0
        }
        return r
    }

    /// The query string that reproduces these options (for URLs the service hands out).
    var query: String {
        var items = ["method=\(method.rawValue)"]
        if let d = dtype { items.append("dtype=\(d.rawValue.lowercased())") }
        if let e = energy { items.append("energy=\(e)") }
        if method != .exact {
            if oversample != 10 { items.append("oversample=\(oversample)") }
            if powerIterations != 2 { items.append("power_iters=\(powerIterations)") }
            if seed != 0 { items.append("seed=\(seed)") }
        }
        return items.joined(separator: "&")
    }

    func squeezer(workers: Int, projections: Bool = false) -> AdapterSqueezer {
        let policy = energy.map { RankPolicy(.energy($0), maxRank: rank) } ?? .fixed(rank)
        return AdapterSqueezer(module: ModuleSqueezer(method: method, policy: policy,
                                                      rsvd: RSVDOptions(oversample: oversample, powerIterations: powerIterations, seed: seed),
                                                      projections: projections),
                               deploymentRank: rank, dtype: dtype, workers: workers)
    }
}
