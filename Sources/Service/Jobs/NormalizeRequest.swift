import Foundation
import Store

/// The body of `POST /v1/normalize`: which adapters (a list of refs, a name prefix, or all) and the
/// squeeze to bring them to. Resolved to digests when the job is created, so it survives restarts
/// and renames unchanged.
struct NormalizeRequest: Codable, Sendable {
    enum CodingKeys: String, CodingKey {
        case adapters, prefix, all, rank, method, dtype, energy, oversample, seed, digests
        case powerIterations = "power_iters"
    }

    var adapters: [String]?
    var prefix: String?
    var all: Bool?
    var rank: Int
    var method: String?
    var dtype: String?
    var energy: Double?
    var oversample: Int?
    var powerIterations: Int?
    var seed: UInt64?
    /// Filled in at creation: the digests the job covers, in order.
    var digests: [String]?

    func squeezeRequest(maxRank: Int) throws -> SqueezeRequest {
        guard (1...maxRank).contains(rank) else {
            throw ServiceError.badRequest("rank \(rank) must be from 1 to \(maxRank)", type: "invalid-rank")
        }
        var r = SqueezeRequest(rank: rank)
        let fields: [String: String] = [
            "method": method, "dtype": dtype, "energy": energy.map { String($0) },
            "oversample": oversample.map { String($0) }, "power_iters": powerIterations.map { String($0) },
            "seed": seed.map { String($0) },
        ].compactMapValues { $0 }
        try r.apply(query: { fields[$0] })
        return r
    }
}

/// What a normalize job reports per adapter.
struct NormalizeOutcome: Codable, Sendable, Equatable {
    var digest: String
    var status: String          // "pending", "done", "failed"
    var error: String?
    var urls: [String: String]?
}
