import Foundation
import Locking
import Logging
import Store
import Synchronization

/// Runs jobs (normalize, extract) one at a time in the background. Each adapter's outcome is a row of its own
/// (`AdapterCatalog.finishJobItem`), written as soon as it is known, so `GET /v1/jobs/{id}` follows
/// progress, recording it costs the same at the last adapter as at the first, and a restart resumes
/// at the first adapter without an outcome.
///
/// Across replicas (a shared PostgreSQL catalog), every replica works on a normalize job at once,
/// each claiming one adapter at a time under a lease (`AdapterCatalog.claimJobItem`); an extraction
/// is run whole by the replica holding the job's lease (`claimJob`). The upkeep loop renews the lease
/// of what runs; a replica that dies stops renewing, and once its lease runs out another replica's
/// upkeep loop (every 5 s it queues the unfinished jobs) claims the work again. Any replica may queue
/// any job: the claims decide who does what.
actor JobRunner {
    private var queue: [JobID] = []
    private var task: Task<Void, Never>?
    /// The job running now (an extraction's lease is the job's), and the adapter of a normalize job
    /// being squeezed now (its lease is the adapter's): what the upkeep loop renews.
    private(set) var current: JobID?
    private(set) var currentItem: (job: JobID, position: Int)?

    func setCurrentItem(_ job: JobID?, _ position: Int?) {
        if let job, let position { currentItem = (job, position) } else { currentItem = nil }
    }
    /// Raised by shutdown: a running job stops before its next adapter (and stays `running`, so the
    /// next start resumes it); nothing new starts.
    nonisolated let stopping = Atomic(false)
    /// Jobs whose lease this replica lost (it could not renew in time and another took over): the
    /// running one stops at its next adapter.
    nonisolated let lost = Locked(Set<JobID>())

    nonisolated var isStopping: Bool { stopping.load(ordering: .relaxed) }

    nonisolated func requestStop() { stopping.store(true, ordering: .relaxed) }

    nonisolated func hasLost(_ id: JobID) -> Bool { lost.withLock { $0.contains(id) } }

    /// Queues a job unless it is queued or running here already.
    func enqueue(_ id: JobID, service: AdapterService) {
        guard !isStopping, current != id, !queue.contains(id) else { return }
        queue.append(id)
        guard task == nil else { return }
        task = Task { await self.drain(service) }
    }

    /// True when the job is queued or running here.
    func holds(_ id: JobID) -> Bool { current == id || queue.contains(id) }

    private func drain(_ service: AdapterService) async {
        while !queue.isEmpty, !isStopping {
            let id = queue.removeFirst()
            current = id
            await service.runJob(id)
            current = nil
            lost.withLock { _ = $0.remove(id) }
        }
        task = nil
    }

    /// Stops taking jobs and waits for the running one to reach an adapter boundary; past `deadline`
    /// it is cancelled (its squeeze stops at the next module) and awaited.
    func stop(deadline: ContinuousClock.Instant) async {
        requestStop()
        guard let running = task else { return }
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await running.value; return true }
            group.addTask { try? await Task.sleep(until: deadline); return false }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        if !finished {
            running.cancel()
            await running.value
        }
    }
}

extension AdapterService {
    static let normalizeKind = "normalize"

    /// Creates a normalize job for `request` (after resolving which adapters it covers) and starts it.
    /// 429 `too-many-jobs` when `maxJobs` are already queued or running.
    /// Creates a normalize job over what `caller` may see: a caller limited to a namespace covers
    /// only adapters named there (its `all` and prefixes too), and the job is visible only to it.
    func createNormalizeJob(_ body: NormalizeRequest, caller: Caller) async throws -> JobRecord {
        _ = try body.squeezeRequest(maxRank: limits.maxRank)
        let chosen = [body.adapters != nil, body.prefix != nil, body.all == true].filter { $0 }.count
        guard chosen == 1 else {
            throw ServiceError.badRequest("give exactly one of \"adapters\" (a list of digests or names), \"prefix\" (a name prefix) or \"all\": true", type: "invalid-job")
        }
        var digests: [String] = []
        if let refs = body.adapters {
            guard !refs.isEmpty else { throw ServiceError.badRequest("\"adapters\" is empty", type: "invalid-job") }
            for ref in refs { digests.append(try await visibleRecord(ref, caller).digest.hex) }
        } else {
            var offset: Int? = 0
            while let o = offset {
                let query = AdapterQuery(limit: AdapterQuery.maxLimit, offset: o, namePrefix: body.prefix,
                                         namespace: caller.namespace)
                let page = try await store.read { try $0.list(query) }
                digests += page.items.map(\.digest.hex)
                offset = page.nextOffset
                guard digests.count <= limits.maxJobAdapters else { break }
            }
        }
        var seen = Set<String>()
        digests = digests.filter { seen.insert($0).inserted }
        guard digests.count <= limits.maxJobAdapters else {
            throw ServiceError.badRequest("the job covers \(digests.count > limits.maxJobAdapters ? "more than \(limits.maxJobAdapters)" : "\(digests.count)") adapters; at most \(limits.maxJobAdapters) per job (max job adapters)", type: "invalid-job")
        }
        let json = String(decoding: try JSONEncoder().encode(body), as: UTF8.self)   // its adapters are the job's items
        let (maxJobs, items, namespace) = (configuration.maxJobs, digests, caller.namespace)
        let job = try await store.write {
            try $0.createJob(kind: Self.normalizeKind, request: json, items: items, maxUnfinished: maxJobs, namespace: namespace)
        }
        await jobs.enqueue(job.id, service: self)
        return job
    }

    /// How long a job's claim holds without renewal, and how often it is renewed while the job runs.
    static let jobLease: Duration = .seconds(15)
    static let jobLeaseRenewal: Duration = .seconds(5)
    /// How often a replica on a shared catalog looks for jobs nobody holds (their replica died).
    static let jobTakeoverInterval: Duration = .seconds(5)

    /// Runs a queued job by its kind, once this replica holds its lease; a job another replica
    /// holds (or that has finished) is skipped.
    func runJob(_ id: JobID) async {
        let (owner, lease, takeOver) = (configuration.replicaID, Self.jobLease.seconds, !configuration.catalog.isShared)
        let kind: String?
        do { kind = try await store.read { try $0.job(id)?.kind } } catch {
            logger.error("job \(id) could not be read: \(error)")
            return
        }
        switch kind {
        case Self.normalizeKind:
            await runNormalize(id)   // claimed adapter by adapter: every replica may work on it at once
        case Self.extractKind:
            // One pass over two models: run whole by the replica holding the job's lease.
            let claimed: JobRecord?
            do { claimed = try await store.write { try $0.claimJob(id, owner: owner, lease: lease, takeOver: takeOver) } } catch {
                logger.error("job \(id) could not be claimed: \(error)")
                return
            }
            guard claimed != nil else {
                logger.debug("job \(id) is finished or another replica's; skipped")
                return
            }
            await runExtract(id)
            // Paused for shutdown (or lost): let another replica take it now rather than at the lease's end.
            _ = try? await store.write { try $0.releaseJob(id, owner: owner) }
        default:
            return
        }
    }

    /// Queues the jobs this replica may work on: after a restart, every unfinished job on a catalog of
    /// its own; on a shared catalog, every unfinished normalize job (its adapters are claimed one by
    /// one) and the extractions nobody holds (never claimed, released, or whose replica's lease ran
    /// out), including this replica's own from before a restart.
    public func resumeJobs() async throws {
        let shared = configuration.catalog.isShared
        let (owner, now) = (configuration.replicaID, Date())
        for job in try await store.read({ try $0.unfinishedJobs() }) where [Self.normalizeKind, Self.extractKind].contains(job.kind) {
            // A normalize job is shared adapter by adapter; an extraction is held by its lease.
            if shared, job.kind == Self.extractKind, let holder = job.owner, holder != owner, let until = job.leaseUntil, until > now { continue }
            guard await !jobs.holds(job.id) else { continue }
            logger.info("resuming \(job.kind) job \(job.id) (\(job.done)/\(job.total))", metadata: [
                "job": "\(job.id)", "previous_owner": "\(job.owner ?? "none")"])
            await jobs.enqueue(job.id, service: self)
        }
    }

    /// Renews the running job's lease (called by the upkeep loop); a lease found lost stops the job
    /// at its next adapter.
    func renewJobLease() async {
        let (owner, lease) = (configuration.replicaID, Self.jobLease.seconds)
        if let item = await jobs.currentItem {
            do {
                let kept = try await store.write { try $0.renewJobItemLease(item.job, position: item.position, owner: owner, lease: lease) }
                // Not renewed because the item finished between reading it and renewing is no loss (the
                // benchmark's single server logged this false warning once): only a pending item held
                // by another replica is.
                let finished = kept ? false : try await store.read { catalog in
                    try catalog.jobItems(item.job).first { $0.position == item.position }.map { $0.status != .pending } ?? true
                }
                if !kept, !finished {
                    logger.warning("lost the lease on adapter \(item.position + 1) of job \(item.job) (another replica took it over); its outcome is recorded once, by whoever finishes first",
                                   metadata: ["job": "\(item.job)"])
                }
            } catch is CancellationError {} catch {
                logger.warning("could not renew the lease on adapter \(item.position + 1) of job \(item.job): \(error)", metadata: ["job": "\(item.job)"])
            }
            return
        }
        guard let id = await jobs.current else { return }
        do {
            let kept = try await store.write { try $0.renewJobLeases([id], owner: owner, lease: lease) }
            if !kept.contains(id), await jobs.current == id {
                logger.warning("lost the lease on job \(id) (another replica took it over); stopping it here", metadata: ["job": "\(id)"])
                jobs.lost.withLock { _ = $0.insert(id) }
            }
        } catch is CancellationError {} catch {
            logger.warning("could not renew the lease on job \(id): \(error)", metadata: ["job": "\(id)"])
        }
    }

    /// Works on a normalize job until no adapter is left to claim: each adapter is claimed under a
    /// lease (`AdapterCatalog.claimJobItem`), squeezed, and its outcome recorded, so every replica on
    /// a shared catalog works on the same job at once, and an adapter whose replica died is claimed
    /// again once its lease runs out. Adapters already done (before a restart) are never claimed.
    /// Whoever records the last outcome finishes the job. Shutdown stops between adapters (or
    /// cancels the squeeze in progress and gives its adapter up): the job stays `running` and the
    /// next start, or another replica, goes on with it.
    func runNormalize(_ id: JobID) async {
        let (owner, lease, takeOver) = (configuration.replicaID, Self.jobLease.seconds, !configuration.catalog.isShared)
        do {
            guard let job = try await store.read({ try $0.job(id) }), !job.state.isFinished else { return }
            let body = try JSONDecoder().decode(NormalizeRequest.self, from: Data(job.request.utf8))
            let squeeze = try body.squeezeRequest(maxRank: limits.maxRank)
            let total = try await store.read { try $0.jobItems(id).count }
            guard total == job.total else {
                throw JobDamaged(detail: "the job has \(total) adapters recorded for \(job.total) expected")
            }
            if job.state == .queued { try await store.write { try $0.updateJob(id, JobUpdate(state: .running)) } }
            while true {
                if jobs.isStopping || Task.isCancelled {
                    logger.info("normalize job \(id) paused for shutdown; it resumes at the next start or on another replica")
                    return
                }
                guard let item = try await store.write({ try $0.claimJobItem(id, owner: owner, lease: lease, takeOver: takeOver) }) else { break }
                await jobs.setCurrentItem(id, item.position)
                var status = JobItem.Status.done
                var failure: String?
                var result: String?
                do {
                    let subject = item.subject
                    guard let digest = SHA256Digest(subject),
                          let record = try await store.read({ try $0.adapter(digest) }) else {
                        throw CatalogError.unknownReference(subject)
                    }
                    let entry = try await squeezed(record, squeeze, client: nil)
                    result = try Self.encode(NormalizeOutcome.Result(
                        urls: Self.squeezedURLs(digest: digest.hex, squeeze, format: record.format),
                        blobs: Self.blobURLs(entry)))
                } catch is CancellationError {
                    // Shutdown: the adapter stays pending, given up so another replica need not wait out its lease.
                    let position = item.position
                    _ = try? await Task.detached { [store] in try await store.write { try $0.releaseJobItem(id, position: position, owner: owner) } }.value
                    await jobs.setCurrentItem(nil, nil)
                    return
                } catch {
                    status = .failed
                    failure = ServiceError.http(error).detail
                }
                let (position, s, f, r) = (item.position, status, failure, result)
                try await store.write { try $0.finishJobItem(id, position: position, status: s, error: f, result: r) }
                await jobs.setCurrentItem(nil, nil)
            }
            // Nothing left to claim: finished here if every adapter has its outcome, else by the
            // replica holding the last ones.
            try await store.write { try $0.finishJobIfComplete(id) { failed, total in "\(failed) of \(total) adapters failed" } }
        } catch is CancellationError {
            return
        } catch {
            logger.error("normalize job \(id) stopped: \(error)")
            let detail = (error as? JobDamaged)?.detail ?? ServiceError.http(error).detail
            _ = try? await store.write { try $0.updateJob(id, JobUpdate(state: .failed, error: detail)) }
        }
    }

    static func squeezedURLs(digest: String, _ r: SqueezeRequest, format: AdapterFormat) -> [String: String] {
        let base = "/v1/adapters/\(digest)/squeezed/\(r.rank)"
        let q = "?" + r.query
        var urls = ["adapter_model.safetensors": base + "/adapter_model.safetensors" + q, "tar": base + ".tar" + q]
        if format == .peft { urls["adapter_config.json"] = base + "/adapter_config.json" + q }
        return urls
    }

    /// The content-addressed URLs of a cache entry's files (`/v1/blobs/{sha256}`, immutable).
    static func blobURLs(_ entry: CacheEntry) -> [String: String] {
        var urls = ["adapter_model.safetensors": "/v1/blobs/\(entry.weightsBlob.hex)"]
        if let config = entry.configBlob { urls["adapter_config.json"] = "/v1/blobs/\(config.hex)" }
        return urls
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(value), as: UTF8.self)
    }
}

/// A stored job that cannot be run as recorded.
struct JobDamaged: Error {
    let detail: String
}
