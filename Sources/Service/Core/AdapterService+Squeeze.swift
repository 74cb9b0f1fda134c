import AdapterFormats
import Foundation
import HTTPServer
import SqueezeEngine
import Store

extension AdapterService {
    /// The cache key of `asked` for `record`, and the request in the form that keys it.
    func cacheKey(_ record: AdapterRecord, _ asked: SqueezeRequest) throws -> (CacheKey, SqueezeRequest, AdapterInspection) {
        let inspection = try inspections.inspection(record)
        let request = asked.canonical(for: inspection)
        return (try CacheKey(adapter: record.digest, rank: request.rank, options: request.canonicalOptions), request, inspection)
    }

    /// The cached squeeze of `record` for `asked`, computed on first use. Identical concurrent
    /// requests compute once; the cache is then trimmed to its budget. Before anything is computed:
    /// the output's size is bounded (422), the squeeze must be admitted (503 when the queue is full,
    /// 429 when `client` already waits on too many), and the disk must have room for it (507).
    /// `client` nil (a normalize job) is not subject to admission.
    func squeezed(_ record: AdapterRecord, _ asked: SqueezeRequest, client: String?) async throws -> CacheEntry {
        let (key, request, inspection) = try cacheKey(record, asked)
        if let hit = try await store.read({ try $0.cacheLookup(key) }) { return hit }
        let size = try checkSqueeze(record, request, inspection)
        let squeezer = request.squeezer(workers: configuration.workers)
        return try await computeOnce(key, outputBytes: size, client: client, modules: record.moduleCount,
                                     label: "rank \(request.rank) [\(request.canonicalOptions)]") { [self] flag in
            try produceSqueeze(record, squeezer: squeezer, flag: flag)
        }
    }

    /// Refuses a squeeze no module can take or whose output is over the limit (before anything is
    /// computed); returns the output's size.
    func checkSqueeze(_ record: AdapterRecord, _ request: SqueezeRequest, _ inspection: AdapterInspection) throws -> Int64 {
        // Zero-padding a small module up to R is what a uniform rank means; a rank no module can
        // reach is a mistake in the request.
        if let largest = inspection.modules.map({ min($0.outFeatures, $0.inFeatures) }).max(), request.rank > largest {
            throw HTTPError(.unprocessableContent, type: "rank-above-module-size",
                            detail: "rank \(request.rank) is above every module's size: the largest min(out, in) in adapter \(record.digest.hex) is \(largest)")
        }
        let size = OutputSize.squeezed(sourceBytes: record.totalBytes, inspection, rank: request.rank, dtype: request.dtype)
        try checkOutputSize(size, what: "the adapter squeezed to rank \(request.rank)")
        return size
    }

    /// For HEAD: the cached squeeze if there is one (not counted as a hit), else nil after the same
    /// checks a GET makes first — nothing is computed.
    func cachedSqueeze(_ record: AdapterRecord, _ asked: SqueezeRequest) async throws -> CacheEntry? {
        let (key, request, inspection) = try cacheKey(record, asked)
        if let entry = try await store.read({ try $0.cachePeek(key) }) { return entry }
        _ = try checkSqueeze(record, request, inspection)
        return nil
    }

    /// For HEAD: the cached dense deltas if they exist, else nil after a GET's checks.
    func cachedDelta(_ record: AdapterRecord, squeeze: SqueezeRequest?, dtype: DType?) async throws -> CacheEntry? {
        let (key, inspection) = try deltaKey(record, squeeze: squeeze, dtype: dtype)
        if let entry = try await store.read({ try $0.cachePeek(key) }) { return entry }
        if var squeeze {
            squeeze.dtype = nil
            let (_, canonical, _) = try cacheKey(record, squeeze)
            _ = try checkSqueeze(record, canonical, inspection)
        }
        try checkOutputSize(OutputSize.delta(inspection, dtype: dtype), what: "the dense deltas")
        return nil
    }

    /// The cache key of the dense deltas (`delta;…`: the files cached as `merged;…` before the tensors
    /// were renamed are other bytes, so they are never served for it; eviction removes them).
    func deltaKey(_ record: AdapterRecord, squeeze: SqueezeRequest?, dtype: DType?) throws -> (CacheKey, AdapterInspection) {
        let inspection = try inspections.inspection(record)
        let rank: Int
        let sourceOptions: String
        if var squeeze {
            squeeze.dtype = nil
            let (_, canonical, _) = try cacheKey(record, squeeze)
            rank = canonical.rank
            sourceOptions = canonical.canonicalOptions
        } else {
            rank = inspection.modules.map(\.rank).max() ?? 1
            sourceOptions = "source"
        }
        return (try CacheKey(adapter: record.digest, rank: rank,
                             options: "delta;dtype=\(dtype?.rawValue ?? "input");from=\(sourceOptions)"), inspection)
    }

    /// The cached dense deltas of `record` (of its squeeze by `squeeze`, when given), in `dtype`.
    func delta(_ record: AdapterRecord, squeeze: SqueezeRequest?, dtype: DType?, client: String?) async throws -> CacheEntry {
        let (key, inspection) = try deltaKey(record, squeeze: squeeze, dtype: dtype)
        if let hit = try await store.read({ try $0.cacheLookup(key) }) { return hit }
        var source = record
        if var squeeze {
            squeeze.dtype = nil   // the delta file has its own dtype; the squeeze keeps the input's
            let entry = try await squeezed(record, squeeze, client: client)
            source.configBlob = entry.configBlob
            source.weightsBlob = entry.weightsBlob
        }
        let size = OutputSize.delta(inspection, dtype: dtype)
        try checkOutputSize(size, what: "the dense deltas")
        let produceSource = source
        let fromCache = squeeze != nil
        return try await computeOnce(key, outputBytes: size, client: client, modules: record.moduleCount,
                                     label: "delta [\(key.options)]") { [self] flag in
            try produceDelta(produceSource, fromCache: fromCache, dtype: dtype, flag: flag)
        }
    }

    func checkOutputSize(_ size: Int64, what: String) throws {
        guard size > limits.maxOutputBytes else { return }
        throw HTTPError(.unprocessableContent, type: "output-too-large",
                        detail: "\(what) would be about \(size) bytes, more than the \(limits.maxOutputBytes) one request may compute (max output); ask for a lower rank or a smaller dtype")
    }

    /// Runs `produce` once for every concurrent caller of `key`, under admission, then records its
    /// blobs in the cache and trims it to its budget. A caller whose client goes away stops waiting;
    /// when nobody waits any more, the computation is cancelled.
    func computeOnce(_ key: CacheKey, outputBytes: Int64, client: String?, modules: Int, label: String,
                     base: SHA256Digest? = nil,
                     _ produce: @escaping @Sendable (CancellationFlag) throws -> (config: SHA256Digest?, weights: SHA256Digest)) async throws -> CacheEntry {
        var admitted = false
        defer { if admitted, let client { admission.release(client: client) } }
        do {
            return try await flights.run(key, admit: { starting, inFlight in
                guard let client else { return }
                try admission.admit(client: client, starting: starting, inFlight: inFlight)
                admitted = true
            }) { [self] in
                if let hit = try await store.read({ try $0.cachePeek(key) }) { return hit }  // computed by a flight that just ended
                // Across replicas: one computes, the others wait for its cache entry.
                let claim: ComputeLock
                switch try await fleetClaim(key) {
                case .computed(let entry): return entry
                case .claimed(let lock): claim = lock
                }
                defer { Task.detached { [self] in await release(claim) } }
                try await ensureFreeSpace(for: outputBytes, what: "this output")
                // Timed on the compute thread: the computation itself, not its wait in the queue
                // (Retry-After multiplies the queue's length by this).
                let (produced, seconds) = try await pool.run { flag in
                    let started = ContinuousClock.now
                    let produced = try produce(flag)
                    return (produced, (ContinuousClock.now - started).seconds)
                }
                // Recorded even if every waiter has gone (the work is done and worth keeping): a detached
                // task is not cancelled with the request, so committed blobs never go unclaimed.
                let budget = limits.cacheBudgetBytes
                let (entry, evicted) = try await Task.detached { [self] in
                    do {
                        return try await store.write { catalog in
                            (try catalog.cacheInsert(key, configBlob: produced.config, weightsBlob: produced.weights, base: base).entry,
                             try catalog.evict(toBudget: budget, sparing: key))
                        }
                    } catch {
                        if error is CancellationError {   // the executor was closed: shutting down
                            catalog.abandon([produced.config, produced.weights].compactMap { $0 })
                        }
                        throw error
                    }
                }.value
                admission.record(seconds: seconds)
                metrics.squeezed(seconds: seconds, modules: modules)
                logger.info("computed \(key.adapter.hex.prefix(12)) \(label) in \(String(format: "%.3f", seconds)) s")
                if !evicted.isEmpty { logger.info("cache: evicted \(evicted.count) entries to stay within \(limits.cacheBudgetBytes) bytes") }
                return entry
            }
        } catch is CancellationError {
            metrics.squeezeCancelled()
            throw CancellationError()
        }
    }

    /// What `fleetClaim` found: the entry another replica computed meanwhile, or the claim to compute it here.
    enum FleetClaim {
        case computed(CacheEntry)
        case claimed(ComputeLock)
    }

    /// Takes the fleet-wide claim on computing `key`, polling while another replica holds it until
    /// that replica's entry appears (then returned) or its claim is released without one (a failure,
    /// or the replica died: then this one takes over). On SQLite the claim is immediate.
    func fleetClaim(_ key: CacheKey) async throws -> FleetClaim {
        while true {
            if let lock = try await store.read({ try $0.tryComputeLock(key) }) {
                // The holder may have finished between the last look and the claim.
                if let hit = try await store.read({ try $0.cachePeek(key) }) {
                    await release(lock)
                    return .computed(hit)
                }
                return .claimed(lock)
            }
            try await Task.sleep(for: Self.fleetClaimPoll)
            if let hit = try await store.read({ try $0.cachePeek(key) }) { return .computed(hit) }
        }
    }

    /// Releases a fleet-wide lock on a catalog thread (on PostgreSQL it is a round trip).
    func release(_ lock: ComputeLock) async {
        _ = try? await store.read { _ in lock.release() }
    }

    /// How often a replica waiting for another's computation looks for its result.
    static let fleetClaimPoll: Duration = .milliseconds(200)

    /// Squeezes and streams the output into new blobs (blocking; runs on the compute pool).
    private func produceSqueeze(_ record: AdapterRecord, squeezer: AdapterSqueezer,
                                flag: CancellationFlag) throws -> (config: SHA256Digest?, weights: SHA256Digest) {
        let adapter = try load(record)   // verifies the source first
        let writer = UnsafeSendable(try catalog.blobs.makeWriter())
        let result: AdapterSqueezer.StreamedResult
        do {
            result = try squeezer.squeeze(adapter, into: { try writer.value.append($0) }, isCancelled: { flag.isRaised })
        } catch {
            writer.value.abort()
            throw error
        }
        if flag.isRaised {
            writer.value.abort()
            throw CancellationError()
        }
        let weights = try writer.value.commit()
        do {
            let config = try result.plan.configJSON.map { try catalog.blobs.write($0) }
            return (config?.digest, weights.digest)
        } catch {
            catalog.abandon([weights.digest])
            throw error
        }
    }

    /// Computes the dense deltas panel by panel into a new blob (blocking; runs on the compute pool).
    private func produceDelta(_ record: AdapterRecord, fromCache: Bool, dtype: DType?,
                               flag: CancellationFlag) throws -> (config: SHA256Digest?, weights: SHA256Digest) {
        if fromCache {   // a squeeze's output: verified like the source
            for blob in [record.configBlob, record.weightsBlob].compactMap({ $0 }) { try checkBlob(blob, of: nil) }
        }
        let delta = try DenseDelta(adapter: try fromCache ? loadUnchecked(record) : load(record), dtype: dtype)
        let writer = try catalog.blobs.makeWriter()
        do {
            try writer.append(delta.header)
            for entry in delta.entries {
                if flag.isRaised { throw CancellationError() }
                try delta.write(entry) { try writer.append($0) }
            }
        } catch {
            writer.abort()
            throw error
        }
        return (nil, try writer.commit().digest)
    }
}
