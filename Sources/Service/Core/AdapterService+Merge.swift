import AdapterFormats
import Foundation
import HTTPServer
import SqueezeEngine
import Store

extension AdapterService {
    /// Merge plans remembered at most (each a few shard names); past it the memory starts over.
    static let maxMergePlans = 1024

    /// The squeeze a merged URL's `{rank}` asks for: nil for `original` (the adapter as uploaded),
    /// else a squeeze at that rank with the query's options. The merged model keeps the base's
    /// dtypes, so `dtype` is refused.
    func mergeSqueeze(_ rankText: String, _ request: HTTPRequest) throws -> SqueezeRequest? {
        if request.queryValue("dtype") != nil {
            throw ServiceError.badRequest("a merged model keeps each base weight's dtype: dtype does not apply", type: "invalid-options")
        }
        guard rankText != "original" else {
            if let stray = SqueezeRequest.parameters.first(where: { request.queryValue($0) != nil }) {
                throw ServiceError.badRequest("\(stray) applies to a squeeze: merged/original merges the adapter as uploaded", type: "invalid-options")
            }
            return nil
        }
        guard Int(rankText) != nil else {
            throw ServiceError.badRequest("rank \"\(rankText.prefix(40))\" must be original or an integer from 1 to \(limits.maxRank)", type: "invalid-rank")
        }
        return try squeezeRequest(rankText, request)
    }

    /// The shards of `base` that merging `record` changes — checked from the headers before any
    /// work: every module must find its weight, of its shape and a float dtype (422 `base-mismatch`
    /// naming the tensor otherwise). Remembered per adapter and base.
    func touchedShards(_ record: AdapterRecord, _ base: BaseRecord) async throws -> Set<String> {
        let key = record.digest.hex + ":" + base.digest.hex
        if let known = mergePlans.withLock({ $0[key] }) { return known }
        let touched = try await io.run { [self] in try mergePlan(load(record), base).touchedShards }
        mergePlans.withLock { plans in
            if plans.count >= Self.maxMergePlans { plans.removeAll() }
            plans[key] = touched
        }
        return touched
    }

    /// Plans the merge of `adapter` into `base` from the base's shard headers (blocking).
    func mergePlan(_ adapter: LoRAAdapter, _ base: BaseRecord) throws -> ModelMerge {
        var headers: [String: SafetensorsHeader] = [:]
        for f in base.files where f.path.hasSuffix(".safetensors") {
            do {
                headers[f.path] = try SafetensorsFile(contentsOf: catalog.blobs.url(for: f.blob), populate: false).header
            } catch SafetensorsError.io {
                throw StoredFileError(digest: base.digest, what: "base model")
            }
        }
        return try ModelMerge(adapter: adapter, shards: headers)
    }

    /// The cache key of one merged shard.
    func mergedKey(_ record: AdapterRecord, _ base: BaseRecord, shard: String, squeeze: SqueezeRequest?) throws -> CacheKey {
        let (rank, from): (Int, String)
        if let squeeze {
            let (_, canonical, _) = try cacheKey(record, squeeze)
            (rank, from) = (canonical.rank, canonical.canonicalOptions)
        } else {
            (rank, from) = (try inspections.inspection(record).modules.map(\.rank).max() ?? 1, "source")
        }
        return try CacheKey(adapter: record.digest, rank: rank, options: "merged;base=\(base.digest.hex);file=\(shard);from=\(from)")
    }

    /// The merged form of one shard, computed once into the cache (with the base recorded, so the
    /// base is not deleted from under it). The squeeze it adds is computed (or found) first.
    func mergedShard(_ record: AdapterRecord, _ base: BaseRecord, shard: BaseRecord.File, squeeze: SqueezeRequest?,
                     client: String?) async throws -> CacheEntry {
        let key = try mergedKey(record, base, shard: shard.path, squeeze: squeeze)
        if let hit = try await store.read({ try $0.cacheLookup(key) }) { return hit }
        var source = record
        if let squeeze {
            let entry = try await squeezed(record, squeeze, client: client)
            source.configBlob = entry.configBlob
            source.weightsBlob = entry.weightsBlob
        }
        let produceSource = source
        let fromCache = squeeze != nil
        return try await computeOnce(key, outputBytes: shard.size, client: client, modules: record.moduleCount,
                                     label: "merged \(shard.path) into base \(base.digest.hex.prefix(12)) [\(key.options.split(separator: ";").last ?? "")]",
                                     base: base.digest) { [self] flag in
            try produceMerged(produceSource, fromCache: fromCache, base: base, shard: shard, flag: flag)
        }
    }

    /// For HEAD: the cached merged shard, or nil (nothing is computed).
    func cachedMergedShard(_ record: AdapterRecord, _ base: BaseRecord, shard: String, squeeze: SqueezeRequest?) async throws -> CacheEntry? {
        let key = try mergedKey(record, base, shard: shard, squeeze: squeeze)
        return try await store.read { try $0.cachePeek(key) }
    }

    /// Merges one shard into a new blob, tensor by tensor (blocking; runs on the compute pool).
    private func produceMerged(_ record: AdapterRecord, fromCache: Bool, base: BaseRecord, shard: BaseRecord.File,
                               flag: CancellationFlag) throws -> (config: SHA256Digest?, weights: SHA256Digest) {
        if fromCache {   // a squeeze's output: verified like the source
            for blob in [record.configBlob, record.weightsBlob].compactMap({ $0 }) { try checkBlob(blob, of: nil) }
        }
        let adapter = try fromCache ? loadUnchecked(record) : load(record)
        try checkBaseBlob(shard.blob, of: base)
        let merge = try mergePlan(adapter, base)
        let file = try SafetensorsFile(contentsOf: catalog.blobs.url(for: shard.blob), populate: false)
        let writer = try catalog.blobs.makeWriter()
        do {
            try merge.write(file, to: { try writer.append($0) }, isCancelled: { flag.isRaised })
        } catch {
            writer.abort()
            throw error
        }
        return (nil, try writer.commit().digest)
    }
}
