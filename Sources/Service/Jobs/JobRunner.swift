import Foundation
import Logging
import Store

/// Runs normalize jobs one at a time in the background, recording progress in SQLite after every
/// adapter, so `GET /v1/jobs/{id}` can follow it and a restart resumes where it stopped.
actor JobRunner {
    private var queue: [JobID] = []
    private var running = false

    func enqueue(_ id: JobID, service: AdapterService) {
        queue.append(id)
        guard !running else { return }
        running = true
        Task { await self.drain(service) }
    }

    private func drain(_ service: AdapterService) async {
        while !queue.isEmpty {
            let id = queue.removeFirst()
            await service.runNormalize(id)
        }
        running = false
    }
}

extension AdapterService {
    static let normalizeKind = "normalize"

    /// Creates a normalize job for `request` (after resolving which adapters it covers) and starts it.
    func createNormalizeJob(_ body: NormalizeRequest) async throws -> JobRecord {
        _ = try body.squeezeRequest(maxRank: limits.maxRank)
        let chosen = [body.adapters != nil, body.prefix != nil, body.all == true].filter { $0 }.count
        guard chosen == 1 else {
            throw ServiceError.badRequest("give exactly one of \"adapters\" (a list of digests or names), \"prefix\" (a name prefix) or \"all\": true", type: "invalid-job")
        }
        var digests: [String] = []
        if let refs = body.adapters {
            guard !refs.isEmpty else { throw ServiceError.badRequest("\"adapters\" is empty", type: "invalid-job") }
            for ref in refs { digests.append(try catalog.resolve(ref).digest.hex) }
        } else {
            var offset: Int? = 0
            while let o = offset {
                let page = try catalog.list(AdapterQuery(limit: AdapterQuery.maxLimit, offset: o, namePrefix: body.prefix))
                digests += page.items.map(\.digest.hex)
                offset = page.nextOffset
            }
        }
        var seen = Set<String>()
        digests = digests.filter { seen.insert($0).inserted }
        guard digests.count <= limits.maxJobAdapters else {
            throw ServiceError.badRequest("the job covers \(digests.count) adapters; at most \(limits.maxJobAdapters) per job", type: "invalid-job")
        }
        var stored = body
        stored.digests = digests
        let json = String(decoding: try JSONEncoder().encode(stored), as: UTF8.self)
        var job = try catalog.createJob(kind: Self.normalizeKind, request: json, total: digests.count)
        let outcomes = digests.map { NormalizeOutcome(digest: $0, status: "pending") }
        job = try catalog.updateJob(job.id, JobUpdate(result: try Self.encode(outcomes)))
        await jobs.enqueue(job.id, service: self)
        return job
    }

    /// Re-queues jobs a previous run left unfinished.
    public func resumeJobs() async throws {
        for job in try catalog.unfinishedJobs() where job.kind == Self.normalizeKind {
            if job.state == .running { try catalog.updateJob(job.id, JobUpdate(state: .queued)) }
            logger.info("resuming normalize job \(job.id) (\(job.done)/\(job.total))")
            await jobs.enqueue(job.id, service: self)
        }
    }

    /// Runs one job to the end; adapters already done (before a restart) are skipped.
    func runNormalize(_ id: JobID) async {
        do {
            guard var job = try catalog.job(id), !job.state.isFinished else { return }
            let body = try JSONDecoder().decode(NormalizeRequest.self, from: Data(job.request.utf8))
            let squeeze = try body.squeezeRequest(maxRank: limits.maxRank)
            var outcomes = try job.result.map { try JSONDecoder().decode([NormalizeOutcome].self, from: Data($0.utf8)) }
                ?? (body.digests ?? []).map { NormalizeOutcome(digest: $0, status: "pending") }
            job = try catalog.updateJob(id, JobUpdate(state: .running))
            for i in outcomes.indices where outcomes[i].status == "pending" {
                do {
                    guard let digest = SHA256Digest(outcomes[i].digest), let record = try catalog.adapter(digest) else {
                        throw CatalogError.unknownReference(outcomes[i].digest)
                    }
                    _ = try await squeezed(record, squeeze, client: nil)
                    outcomes[i].status = "done"
                    outcomes[i].urls = Self.squeezedURLs(digest: digest.hex, squeeze, format: record.format)
                } catch {
                    outcomes[i].status = "failed"
                    outcomes[i].error = ServiceError.http(error).detail
                }
                let done = outcomes.filter { $0.status != "pending" }.count
                job = try catalog.updateJob(id, JobUpdate(done: done, result: try Self.encode(outcomes)))
            }
            let failed = outcomes.filter { $0.status == "failed" }.count
            try catalog.updateJob(id, JobUpdate(state: failed == 0 ? .succeeded : .failed,
                                                error: failed == 0 ? nil : "\(failed) of \(outcomes.count) adapters failed"))
        } catch {
            logger.error("normalize job \(id) stopped: \(error)")
            _ = try? catalog.updateJob(id, JobUpdate(state: .failed, error: "\(error)"))
        }
    }

    static func squeezedURLs(digest: String, _ r: SqueezeRequest, format: AdapterFormat) -> [String: String] {
        let base = "/v1/adapters/\(digest)/squeezed/\(r.rank)"
        let q = "?" + r.query
        var urls = ["adapter_model.safetensors": base + "/adapter_model.safetensors" + q, "tar": base + ".tar" + q]
        if format == .peft { urls["adapter_config.json"] = base + "/adapter_config.json" + q }
        return urls
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(value), as: UTF8.self)
    }
}
