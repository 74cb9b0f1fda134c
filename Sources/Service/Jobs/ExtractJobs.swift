import AdapterFormats
import Foundation
import HTTPServer
import SqueezeEngine
import Store

extension AdapterService {
    static let extractKind = "extract"

    /// Checks an extraction against the two models' headers (422 naming the tensor when they do not
    /// match, before any work), then creates its job: one item per targeted weight.
    func createExtractJob(_ body: ExtractRequest, caller: Caller) async throws -> JobRecord {
        let options = try body.options(maxRank: limits.maxRank)
        _ = try body.outputDType()
        let name = try body.name.map { try AdapterName(validating: $0) }
        try caller.requireCreatedName(name, how: "\"name\": ")
        let base = try await visibleBase(body.base, caller)
        let tuned = try await visibleBase(body.tuned, caller)
        for model in [base, tuned] where model.damaged { throw BaseDamaged(blob: nil, base: model.digest) }
        let plan = try await io.run { [self] in try extractionPlan(base: base, tuned: tuned, options: options).plan }
        let job = ExtractJob(request: body, baseDigest: base.digest.hex, tunedDigest: tuned.digest.hex)
        let (json, items, maxJobs, namespace) = (try Self.encode(job), plan.pairs.map(\.module), configuration.maxJobs, caller.namespace)
        let created = try await store.write {
            try $0.createJob(kind: Self.extractKind, request: json, items: items, maxUnfinished: maxJobs, namespace: namespace)
        }
        await jobs.enqueue(created.id, service: self)
        return created
    }

    /// The two models' shards opened (mapped, not read) and the plan over their headers (blocking).
    func extractionPlan(base: BaseRecord, tuned: BaseRecord, options: ModelExtraction.Options) throws
        -> (plan: ModelExtraction, base: [String: SafetensorsFile], tuned: [String: SafetensorsFile]) {
        func open(_ model: BaseRecord) throws -> [String: SafetensorsFile] {
            var files: [String: SafetensorsFile] = [:]
            for f in model.files where f.path.hasSuffix(".safetensors") {
                do { files[f.path] = try SafetensorsFile(contentsOf: catalog.blobs.url(for: f.blob), populate: false) } catch SafetensorsError.io {
                    throw StoredFileError(digest: model.digest, what: "base model")
                }
            }
            return files
        }
        let (b, t) = (try open(base), try open(tuned))
        return (try ModelExtraction(base: b.mapValues(\.header), tuned: t.mapValues(\.header), options: options), b, t)
    }

    /// Runs an extract job: every targeted weight's update factored on the compute pool, one at a
    /// time, each item's outcome recorded as it is known; then the adapter is validated and stored like
    /// an upload. The factors live in memory until then, so a job interrupted by a restart starts over
    /// (the seeded randomized SVD gives the same factors again).
    func runExtract(_ id: JobID) async {
        do {
            guard let job = try await store.read({ try $0.job(id) }), !job.state.isFinished else { return }
            let stored = try JSONDecoder().decode(ExtractJob.self, from: Data(job.request.utf8))
            let options = try stored.request.options(maxRank: limits.maxRank)
            guard let baseDigest = SHA256Digest(stored.baseDigest), let tunedDigest = SHA256Digest(stored.tunedDigest) else {
                throw JobDamaged(detail: "the job's base or tuned digest is not a digest")
            }
            let (base, tuned) = try await store.read { (try $0.base(.digest(baseDigest)), try $0.base(.digest(tunedDigest))) }
            try await store.write { try $0.updateJob(id, JobUpdate(state: .running)) }
            let items = try await store.read { try $0.jobItems(id) }
            let opened = UnsafeSendable(try await io.run { [self] in
                for model in [base, tuned] {
                    for f in model.files where f.path.hasSuffix(".safetensors") { try checkBaseBlob(f.blob, of: model) }
                }
                return try extractionPlan(base: base, tuned: tuned, options: options)
            })
            let plan = opened.value.plan
            guard plan.pairs.map(\.module) == items.map(\.subject) else {
                throw JobDamaged(detail: "the job's \(items.count) modules are not the \(plan.pairs.count) the models have now")
            }
            var modules: [ExtractedModule] = []
            for (item, pair) in zip(items, plan.pairs) {
                if jobs.isStopping || Task.isCancelled || jobs.hasLost(id) {
                    logger.info("extract job \(id) stopped at module \(item.position + 1)/\(items.count) for shutdown; it starts over at the next start")
                    return
                }
                let extracted = try await pool.run { flag -> ExtractedModule? in
                    if flag.isRaised { throw CancellationError() }
                    let files = opened.value
                    guard let update = try plan.update(pair, base: files.base[pair.baseShard]!, tuned: files.tuned[pair.tunedShard]!) else { return nil }
                    return try plan.factor(pair, update: update)
                }
                if let m = extracted { modules.append(m) }
                guard item.status == .pending else { continue }   // recorded before a restart
                let result = ExtractOutcome.Result(rank: extracted?.rank, energy: extracted?.energy, relativeError: extracted?.relativeError,
                                                   unchanged: extracted == nil ? true : nil)
                let (position, text) = (item.position, try Self.encode(result))
                try await store.write { try $0.finishJobItem(id, position: position, status: .done, result: text) }
            }
            guard !modules.isEmpty else { throw ModelExtractionError.nothingChanged }
            let firstFloat = opened.value.tuned.values.flatMap(\.tensors).first { $0.dtype.isFloatWritable }?.dtype
            let dtype = try stored.request.outputDType() ?? firstFloat ?? .f32
            let files = try plan.peftFiles(modules, baseModel: stored.request.baseModel ?? base.names.first?.rawValue, dtype: dtype)
            let writer = UnsafeSendable(try catalog.blobs.makeWriter())
            try await io.run { try writer.value.append(files.weights) }
            let name = try stored.request.name.map { try AdapterName(validating: $0) }
            let (record, _) = try await storeAdapter(config: Array(files.config), weights: writer.value, name: name)
            let energies = modules.map(\.energy)
            let result = ExtractResult(adapter: record.digest.hex, names: record.names.map(\.rawValue), url: "/v1/adapters/\(record.digest.hex)",
                                       modules: modules.count, meanEnergy: energies.reduce(0, +) / Double(energies.count),
                                       minEnergy: energies.min() ?? 1)
            let text = try Self.encode(result)
            try await store.write { try $0.updateJob(id, JobUpdate(state: .succeeded, result: text)) }
            logger.info("extract job \(id): adapter \(record.digest.hex.prefix(12)) with \(modules.count) modules at rank \(options.rank)")
        } catch is CancellationError {
            return
        } catch {
            logger.error("extract job \(id) failed: \(error)")
            let detail = (error as? JobDamaged)?.detail ?? ServiceError.http(error).detail
            _ = try? await store.write { try $0.updateJob(id, JobUpdate(state: .failed, error: detail)) }
        }
    }
}
