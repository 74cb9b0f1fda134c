import AdapterFormats
import Foundation
import SqueezeEngine
import Store

/// The body of `POST /v1/extract`: a stored base and a stored tuned model (digests or names), the
/// adapter's rank and options, and the name to give it. Unknown fields are ignored; a known one given
/// as `null` is refused.
struct ExtractRequest: Codable, Sendable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case base, tuned, rank, energy, targets, name, dtype, oversample, seed
        case powerIterations = "power_iters"
        case fanInFanOut = "fan_in_fan_out"
        case baseModel = "base_model"
    }

    var base: String
    var tuned: String
    var rank: Int
    var energy: Double?
    var targets: [String]?
    var name: String?
    var dtype: String?
    var oversample: Int?
    var powerIterations: Int?
    var seed: UInt64?
    var fanInFanOut: Bool?
    var baseModel: String?

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.refuseNulls()
        base = try c.decode(String.self, forKey: .base)
        tuned = try c.decode(String.self, forKey: .tuned)
        rank = try c.decode(Int.self, forKey: .rank)
        energy = try c.decodeIfPresent(Double.self, forKey: .energy)
        targets = try c.decodeIfPresent([String].self, forKey: .targets)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        dtype = try c.decodeIfPresent(String.self, forKey: .dtype)
        oversample = try c.decodeIfPresent(Int.self, forKey: .oversample)
        powerIterations = try c.decodeIfPresent(Int.self, forKey: .powerIterations)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
        fanInFanOut = try c.decodeIfPresent(Bool.self, forKey: .fanInFanOut)
        baseModel = try c.decodeIfPresent(String.self, forKey: .baseModel)
    }

    /// The engine's options, validated (400 `invalid-options` naming the field).
    func options(maxRank: Int) throws -> ModelExtraction.Options {
        guard (1...maxRank).contains(rank) else {
            throw ServiceError.badRequest("rank \(rank) must be from 1 to \(maxRank)", type: "invalid-rank")
        }
        if let e = energy, !(e > 0 && e <= 1) {
            throw ServiceError.badRequest("energy \(e) must be in (0, 1]", type: "invalid-options")
        }
        if let t = targets, t.isEmpty || t.contains(where: \.isEmpty) {
            throw ServiceError.badRequest("targets must be a non-empty list of module names or their last parts", type: "invalid-options")
        }
        let rsvd = RSVDOptions(oversample: oversample ?? 10, powerIterations: powerIterations ?? 2, seed: seed ?? 0)
        guard (0...RSVDOptions.maxOversample).contains(rsvd.oversample), (0...RSVDOptions.maxPowerIterations).contains(rsvd.powerIterations) else {
            throw ServiceError.badRequest("oversample must be 0...\(RSVDOptions.maxOversample) and power_iters 0...\(RSVDOptions.maxPowerIterations)", type: "invalid-options")
        }
        return ModelExtraction.Options(rank: rank, energy: energy, targets: targets, rsvd: rsvd, fanInFanOut: fanInFanOut ?? false)
    }

    /// The adapter's dtype: `dtype`, else the tuned model's (nil: decided from its tensors).
    func outputDType() throws -> DType? {
        try dtype.map(SqueezeRequest.outputDType)
    }
}

/// What an extract job stores to run (and resume): the request and the two models' digests,
/// resolved when it was created so that moving a name later changes nothing.
struct ExtractJob: Codable, Sendable {
    var request: ExtractRequest
    var baseDigest: String
    var tunedDigest: String
}

/// What an extract job reports per module.
struct ExtractOutcome: Codable, Sendable, Equatable {
    var module: String
    var status: String
    var error: String?
    /// Singular directions kept, the fraction of ‖ΔW‖² they hold, and ‖ΔW − B'A'‖/‖ΔW‖; absent for
    /// a weight that did not change (`unchanged`).
    var rank: Int?
    var energy: Double?
    var relativeError: Double?
    var unchanged: Bool?

    struct Result: Codable {
        var rank: Int?
        var energy: Double?
        var relativeError: Double?
        var unchanged: Bool?
    }

    init(_ item: JobItem) {
        let result = item.result.flatMap { try? JSONDecoder().decode(Result.self, from: Data($0.utf8)) }
        module = item.subject
        status = item.status.rawValue
        error = item.error
        rank = result?.rank
        energy = result?.energy
        relativeError = result?.relativeError
        unchanged = result?.unchanged
    }
}

/// An extract job's result: the adapter it stored.
struct ExtractResult: Codable, Sendable {
    var adapter: String
    var names: [String]
    var url: String
    var modules: Int
    var meanEnergy: Double
    var minEnergy: Double
}
