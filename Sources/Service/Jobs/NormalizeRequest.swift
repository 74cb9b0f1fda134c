import Foundation
import Store

/// The body of `POST /v1/normalize`: which adapters (a list of refs, a name prefix, or all) and the
/// squeeze to bring them to. Resolved to digests when the job is created (its items), so it survives
/// restarts and renames unchanged. Unknown fields are ignored; a known one given as `null` is refused
/// (the schema has no nullable field, and `"adapters": null` beside `"all": true` would be ambiguous).
struct NormalizeRequest: Codable, Sendable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case adapters, prefix, all, rank, method, dtype, energy, oversample, seed
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

    /// A request as the dashboard's form makes it.
    init(adapters: [String]? = nil, prefix: String? = nil, all: Bool? = nil, rank: Int, method: String? = nil) {
        self.adapters = adapters
        self.prefix = prefix
        self.all = all
        self.rank = rank
        self.method = method
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.refuseNulls()
        adapters = try c.decodeIfPresent([String].self, forKey: .adapters)
        prefix = try c.decodeIfPresent(String.self, forKey: .prefix)
        all = try c.decodeIfPresent(Bool.self, forKey: .all)
        rank = try c.decode(Int.self, forKey: .rank)
        method = try c.decodeIfPresent(String.self, forKey: .method)
        dtype = try c.decodeIfPresent(String.self, forKey: .dtype)
        energy = try c.decodeIfPresent(Double.self, forKey: .energy)
        oversample = try c.decodeIfPresent(Int.self, forKey: .oversample)
        powerIterations = try c.decodeIfPresent(Int.self, forKey: .powerIterations)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
    }

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
    /// The squeezed files by adapter digest and options (revalidated: a recompute may differ).
    var urls: [String: String]?
    /// The same files by content (`/v1/blobs/{sha256}`, immutable): what a fleet pins.
    var blobs: [String: String]?

    /// What a done item records (`JobItem.result`, JSON).
    struct Result: Codable {
        var urls: [String: String]
        var blobs: [String: String]?
    }

    init(digest: String, status: String, error: String? = nil, urls: [String: String]? = nil, blobs: [String: String]? = nil) {
        self.digest = digest
        self.status = status
        self.error = error
        self.urls = urls
        self.blobs = blobs
    }

    init(_ item: JobItem) {
        let result = item.result.flatMap { try? JSONDecoder().decode(Result.self, from: Data($0.utf8)) }
        self.init(digest: item.subject, status: item.status.rawValue, error: item.error, urls: result?.urls, blobs: result?.blobs)
    }
}
