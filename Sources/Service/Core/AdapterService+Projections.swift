import AdapterFormats
import Foundation
import HTTPServer
import SqueezeEngine
import Store

extension AdapterService {
    /// The file name of a squeeze's projections, beside its two PEFT files.
    static let projectionsFile = "projections.safetensors"

    /// The cache key of the projections of `asked`'s squeeze: the exact method only (its T_A, T_B are
    /// what maps the adapter and its optimizer state; a randomized sketch has none to offer), keyed
    /// like the squeeze but without the dtype (projections are F32 whatever the output's dtype).
    func projectionsKey(_ record: AdapterRecord, _ asked: SqueezeRequest) throws -> (CacheKey, SqueezeRequest, AdapterInspection) {
        var (_, request, inspection) = try cacheKey(record, asked)
        guard request.method == .exact else {
            throw HTTPError(.badRequest, type: "invalid-options",
                            detail: "projections come from the exact method: ask with method=exact (or auto, when every module of adapter \(record.digest.hex) runs exact); this request runs \(request.method.rawValue)")
        }
        request.dtype = nil
        return (try CacheKey(adapter: record.digest, rank: request.rank, options: "projections;" + request.canonicalOptions),
                request, inspection)
    }

    /// For HEAD: the cached projections if there are any, else nil after a GET's checks.
    func cachedProjections(_ record: AdapterRecord, _ asked: SqueezeRequest) async throws -> CacheEntry? {
        let (key, request, inspection) = try projectionsKey(record, asked)
        if let entry = try await store.read({ try $0.cachePeek(key) }) { return entry }
        _ = try checkSqueeze(record, request, inspection)
        return nil
    }

    /// The projections of `record` squeezed by `asked`, computed once into the cache like a squeeze.
    func projections(_ record: AdapterRecord, _ asked: SqueezeRequest, client: String?) async throws -> CacheEntry {
        let (key, request, inspection) = try projectionsKey(record, asked)
        if let hit = try await store.read({ try $0.cacheLookup(key) }) { return hit }
        _ = try checkSqueeze(record, request, inspection)
        // T_A and T_B of each module, F32: at most 2·rank·(its rank) floats, and a header line each.
        let size = inspection.modules.reduce(Int64(0)) { total, m in
            total + Int64(2 * min(request.rank, m.rank) * m.rank * 4) + OutputSize.headerSlackPerModule * 2
        }
        try checkOutputSize(size, what: "the projections at rank \(request.rank)")
        let squeezer = request.squeezer(workers: configuration.workers, projections: true)
        return try await computeOnce(key, outputBytes: size, client: client, modules: record.moduleCount,
                                     label: "projections rank \(request.rank) [\(request.canonicalOptions)]") { [self] flag in
            let adapter = try load(record)
            if flag.isRaised { throw CancellationError() }
            let result = try squeezer.squeeze(adapter)
            if flag.isRaised { throw CancellationError() }
            return (nil, try catalog.blobs.write(try ProjectionsFile.encode(result.projections)).digest)
        }
    }
}
