import Foundation
import SqueezeEngine
import Store

/// An adapter as the API describes it (`GET /v1/adapters/{ref}`, upload responses, list items).
struct AdapterResponse: Encodable {
    struct Module: Encodable {
        let name: String
        let kind: String
        let outFeatures: Int
        let inFeatures: Int
        let rank: Int
        let dtype: String
        let alpha: Double
        let scale: Double
        /// Energy kept at ranks 1, 2, 4, …, r (`ranks[i]` → `energy[i]`).
        let ranks: [Int]
        let energy: [Double]
    }

    let digest: String
    let names: [String]
    let format: String
    let baseModel: String?
    let createdAt: String
    let moduleCount: Int
    let bytes: Int64
    let files: [String: String]
    let modules: [Module]?
    let candidates: [AdapterInspection.Candidate]?
    /// Present (true) when a stored file of the adapter failed verification: its files are not served
    /// until the same content is uploaded again.
    let damaged: Bool?

    init(_ r: AdapterRecord, detailed: Bool) {
        digest = r.digest.hex
        names = r.names.map(\.description)
        format = r.format.rawValue
        baseModel = r.baseModel
        createdAt = r.createdAt.formatted(.iso8601)
        moduleCount = r.moduleCount
        bytes = r.totalBytes
        let base = "/v1/adapters/\(r.digest.hex)/files/"
        files = r.format == .peft
            ? ["adapter_config.json": base + "adapter_config.json", "adapter_model.safetensors": base + "adapter_model.safetensors"]
            : ["adapter_model.safetensors": base + "adapter_model.safetensors"]
        let inspection = detailed ? try? JSONDecoder().decode(AdapterInspection.self, from: Data(r.descriptionJSON.utf8)) : nil
        modules = inspection?.modules.map {
            Module(name: $0.name, kind: $0.kind.rawValue, outFeatures: $0.outFeatures, inFeatures: $0.inFeatures,
                   rank: $0.rank, dtype: $0.dtype, alpha: $0.alpha, scale: $0.scale, ranks: $0.ranks, energy: $0.energy)
        }
        candidates = inspection?.candidates
        damaged = r.damaged ? true : nil
    }
}

enum JSONBody {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(value), as: UTF8.self)
    }
}
