import AdapterFormats
import Foundation
import HTTPServer
import Logging
import SqueezeEngine
import Store
import Synchronization

/// The service's state and operations: the catalog, the compute pool, the squeeze cache with
/// single-flight, metrics and normalize jobs. Routes translate HTTP to calls on this.
public final class AdapterService: Sendable {
    public let configuration: ServiceConfiguration
    let catalog: AdapterCatalog
    let logger: Logger
    let pool: ComputePool
    /// Blocking storage work (fsyncs of large blobs, first-read verification) off the cooperative threads.
    let io: ComputePool
    let metrics: ServiceMetrics
    let flights = SingleFlight<CacheKey, CacheEntry>()
    let draining = Mutex(false)
    /// The server, once started, for the open-connections gauge.
    let server = Mutex<HTTPServer?>(nil)
    let jobs: JobRunner

    public init(configuration: ServiceConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        catalog = try AdapterCatalog(directory: configuration.dataDirectory, logger: logger)
        pool = ComputePool(label: "lora-squeeze.compute", width: configuration.concurrentSqueezes)
        io = ComputePool(label: "lora-squeeze.io", width: 4)
        metrics = ServiceMetrics()
        jobs = JobRunner()
    }

    /// Marks the service as draining (readyz answers 503) before a graceful shutdown.
    public func beginDraining() { draining.withLock { $0 = true } }

    public var isDraining: Bool { draining.withLock { $0 } }

    public func close() { catalog.close() }

    // MARK: Adapters

    /// Reads an upload, validates it fully, and only then commits its blobs and row.
    func ingest(_ request: HTTPRequest, name: AdapterName?) async throws -> (AdapterRecord, created: Bool) {
        let kind = try UploadReceiver.kind(of: request)
        let receiver = UploadReceiver(blobs: catalog.blobs, maxConfigBytes: configuration.maxConfigBytes)
        let files = try await receiver.receive(request, kind: kind)
        let writer = files.weights!
        let path = writer.temporaryPath
        let config = files.config
        let workers = configuration.workers
        let validated: ValidatedUpload
        do {
            validated = try await pool.run { try ValidatedUpload(config: config, weightsPath: path, workers: workers) }
        } catch {
            writer.abort()
            throw error
        }
        let pending = UnsafeSendable(writer)
        let catalog = self.catalog
        let (result, size) = try await io.run {
            let weights = try pending.value.commit()
            let configBlob = try validated.canonicalConfig.map { try catalog.blobs.write($0) }
            let digest = try ValidatedUpload.adapterDigest(format: validated.format, config: configBlob?.digest, weights: weights.digest)
            let result = try catalog.put(NewAdapter(digest: digest, format: validated.format, configBlob: configBlob?.digest,
                                                    weightsBlob: weights.digest, baseModel: validated.baseModel,
                                                    moduleCount: validated.moduleCount, descriptionJSON: validated.descriptionJSON),
                                         name: name)
            return (result, weights.size)
        }
        metrics.adapterUploaded(bytes: Int(size))
        return (result.adapter, result.created)
    }

    /// Opens a stored adapter's weights (memory-mapped) as a `LoRAAdapter`. Its files were validated
    /// when stored, so a failure here is the server's (a damaged or missing blob): a 500 without paths.
    func load(_ record: AdapterRecord) throws -> LoRAAdapter {
        do { return try loadUnchecked(record) } catch {
            logger.error("stored adapter \(record.digest.hex) cannot be read: \(error)")
            throw StoredFileError(digest: record.digest)
        }
    }

    private func loadUnchecked(_ record: AdapterRecord) throws -> LoRAAdapter {
        let weights = try SafetensorsFile(contentsOf: catalog.blobs.url(for: record.weightsBlob))
        switch record.format {
        case .kohya:
            return try LoRAAdapter.kohya(weights: weights)
        case .peft:
            guard let c = record.configBlob else { throw CatalogError.invalidAdapter(record.digest, "a PEFT adapter without a config blob") }
            let config = try PEFTConfig(json: try Data(contentsOf: catalog.blobs.url(for: c)))
            return try LoRAAdapter.peft(config: config, weights: weights)
        }
    }

    // MARK: Squeeze cache

    /// The cached squeeze of `record` for `request`, computed on first use. Identical concurrent
    /// requests compute once; the cache is then trimmed to its budget.
    func squeezed(_ record: AdapterRecord, _ asked: SqueezeRequest) async throws -> CacheEntry {
        // The stored description, decoded at most once per request and only when needed.
        var decoded: AdapterInspection?
        func inspection() throws -> AdapterInspection {
            if let d = decoded { return d }
            let d = try Self.inspection(record)
            decoded = d
            return d
        }
        var normalized = asked
        if let dtype = asked.dtype {
            // Asking for the dtype every module already has is the default: one cache entry, not two.
            let dtypes = Set(try inspection().modules.map(\.dtype))
            if dtypes == [dtype.rawValue] { normalized.dtype = nil }
        }
        let request = normalized
        let key = try CacheKey(adapter: record.digest, rank: request.rank, options: request.canonicalOptions)
        if let hit = try catalog.cacheLookup(key) { return hit }
        // Zero-padding a small module up to R is what a uniform rank means; a rank no module can
        // reach is a mistake in the request.
        if let largest = try? inspection().modules.map({ min($0.outFeatures, $0.inFeatures) }).max(),
           request.rank > largest {
            throw HTTPError(.unprocessableContent, type: "rank-above-module-size",
                            detail: "rank \(request.rank) is above every module's size: the largest min(out, in) in adapter \(record.digest.hex) is \(largest)")
        }
        return try await flights.run(key) { [self] in
            if let hit = try catalog.cachePeek(key) { return hit }  // computed by a flight that just ended
            let started = ContinuousClock.now
            let squeezer = request.squeezer(workers: configuration.workers)
            let produced = try await pool.run { [self] in try produce(record, squeezer: squeezer) }
            let (entry, evicted) = try await io.run { [self] in
                (try catalog.cacheInsert(key, configBlob: produced.config, weightsBlob: produced.weights).entry,
                 try catalog.evict(toBudget: configuration.cacheBudgetBytes, sparing: key))
            }
            let seconds = (ContinuousClock.now - started).seconds
            metrics.squeezed(seconds: seconds, modules: record.moduleCount)
            logger.info("squeezed \(record.digest.hex.prefix(12)) to rank \(request.rank) [\(request.canonicalOptions)] in \(String(format: "%.3f", seconds)) s")
            if !evicted.isEmpty { logger.info("cache: evicted \(evicted.count) entries to stay within \(configuration.cacheBudgetBytes) bytes") }
            return entry
        }
    }

    /// Squeezes and writes the output's blobs (blocking; runs on the compute pool).
    private func produce(_ record: AdapterRecord, squeezer: AdapterSqueezer) throws -> (config: SHA256Digest?, weights: SHA256Digest) {
        let adapter = try load(record)
        let result = try squeezer.squeeze(adapter)
        let writer = try catalog.blobs.makeWriter()
        do {
            let output = result.output
            try writer.append(try SafetensorsWriter.header(output.tensors.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape) },
                                                           metadata: output.metadata))
            for t in output.tensors { try writer.append(t.bytes) }
        } catch {
            writer.abort()
            throw error
        }
        let weights = try writer.commit()
        let config = try result.output.configJSON.map { try catalog.blobs.write($0) }
        return (config?.digest, weights.digest)
    }
}

/// A stored file the server cannot read back (it passed validation when stored).
struct StoredFileError: Error {
    let digest: SHA256Digest
}

/// Hands a value that is used by one task at a time to a pool thread (the caller awaits the result).
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
