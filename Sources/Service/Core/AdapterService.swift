import AdapterFormats
import Foundation
import HTTPServer
import Locking
import Logging
import SqueezeEngine
import Store

/// The service's state and operations: the catalog, the compute pool, the squeeze cache with
/// single-flight and admission, metrics and normalize jobs. Routes translate HTTP to calls on this.
public final class AdapterService: Sendable {
    public let configuration: ServiceConfiguration
    let catalog: AdapterCatalog
    /// Every catalog call from a request or a task goes through here, off the cooperative threads.
    let store: CatalogExecutor
    let logger: Logger
    let pool: ComputePool
    /// Blocking storage work (fsyncs of large blobs, first-read verification, statvfs) off the
    /// cooperative threads.
    let io: ComputePool
    let metrics: ServiceMetrics
    let flights = SingleFlight<CacheKey, CacheEntry>()
    let admission: SqueezeAdmission
    let inspections = InspectionCache()
    /// Which shards of a base an adapter's merge changes, by "adapter:base" digests (see `touchedShards`).
    let mergePlans = Locked<[String: Set<String>]>([:])
    let draining = Locked(false)
    /// The servers, once started (the plain one, and the HTTPS one when it has a port of its own),
    /// for the open-connections gauge and shutdown.
    let servers = Locked<[HTTPServer]>([])
    /// The certificate, once loaded; `reloadTLS()` reads it again.
    let tlsContext = Locked<TLSContext?>(nil)
    let tlsAddressValue = Locked<SocketAddress?>(nil)

    /// Where HTTPS is served, once started: the TLS port, or the main one when it speaks TLS.
    public var tlsAddress: SocketAddress? { tlsAddressValue.withLock { $0 } }
    let jobs: JobRunner
    /// Who a request is (tokens, scopes, the failure budget).
    let authenticator: Authenticator
    /// Dashboard sign-ins (`/ui/…`).
    let sessions: DashboardSessions
    /// One line on authentication for the start-up banner: on or off, and where the admin token is.
    let accessBanner = Locked("")
    /// `/readyz`'s write check, done at most once a second.
    let readiness = ReadinessCheck()
    /// Maintenance and scrub tasks, cancelled and awaited by `stop()`.
    let background = Locked<[Task<Void, Never>]>([])

    var limits: ServiceLimits { configuration.limits }

    /// Squeezes and validations run at the lowest priority, taking whatever CPU serving leaves: under
    /// the flood benchmark /healthz p99 was 62 ms at nice 0, 43–64 ms at 10 and 38–51 ms at 19, while
    /// squeezes took 0.13–0.17 s instead of 0.11–0.15 s. Serving cached bytes and answering probes
    /// comes first; a squeeze waits.
    static let computeNiceness: Int32 = 19

    public init(configuration: ServiceConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        catalog = try AdapterCatalog(directory: configuration.dataDirectory, configuration: configuration.catalogConfiguration,
                                     logger: logger)
        store = CatalogExecutor(catalog, readers: configuration.catalog.isShared ? configuration.catalogPoolSize - 1 : 1)
        pool = ComputePool(label: "lora-squeeze.compute", width: configuration.concurrentSqueezes,
                           niceness: Self.computeNiceness)
        io = ComputePool(label: "lora-squeeze.io", width: 4)
        metrics = ServiceMetrics()
        admission = SqueezeAdmission(limits: configuration.limits, concurrentSqueezes: configuration.concurrentSqueezes)
        jobs = JobRunner()
        authenticator = Authenticator(enabled: configuration.access.enabled,
                                      metricsNeedToken: configuration.access.metricsNeedToken,
                                      limits: configuration.authLimits, store: store, metrics: metrics)
        sessions = DashboardSessions(enabled: configuration.access.enabled, limits: configuration.dashboardLimits, store: store)
    }

    /// Reads the TLS certificate and key again (on SIGHUP): new connections get the new pair, open
    /// ones keep theirs; a pair that does not load throws and the current one stays.
    public func reloadTLS() throws {
        guard let context = tlsContext.withLock({ $0 }) else { return }
        try context.reload()
    }

    /// Authentication's state and where the admin token is, once `start()` has run.
    public var accessSummary: String { accessBanner.withLock { $0 } }

    /// Marks the service as draining (readyz answers 503) before a graceful shutdown.
    public func beginDraining() { draining.withLock { $0 = true } }

    public var isDraining: Bool { draining.withLock { $0 } }

    /// Stops taking work and closes the catalog (writing pending cache hits). `stop()` calls it last,
    /// once requests, jobs and background tasks are done.
    public func close() {
        pool.close()
        io.close()
        store.close()
        catalog.close()
    }

    /// Opens a stored adapter's weights (memory-mapped) as a `LoRAAdapter`. Its files were validated
    /// when stored, so a failure here is the server's (a damaged or missing blob): a 500 without
    /// paths — unless the adapter is over limits lowered since it was stored, which is said as such.
    func load(_ record: AdapterRecord) throws -> LoRAAdapter {
        // Verified before it is read, on every path (squeeze, delta, normalize): a damaged source
        // must never be squeezed into a fresh blob that hashes correctly.
        if record.damaged { throw BlobDamaged(blob: nil, adapter: record.digest) }
        do {
            for blob in [record.configBlob, record.weightsBlob].compactMap({ $0 }) { try checkBlob(blob, of: record) }
            return try loadVerified(record)
        } catch let error where !(error is BlobDamaged) {
            // Deleted while this request waited (its files go once the delete commits): a 404, not a
            // storage fault.
            var deleted = false
            do { deleted = try catalog.adapter(record.digest) == nil } catch {}
            if deleted { throw CatalogError.unknownAdapter(record.digest) }
            throw error
        }
    }

    private func loadVerified(_ record: AdapterRecord) throws -> LoRAAdapter {
        do { return try loadUnchecked(record) } catch let error as AdapterError {
            switch error {
            case .tooManyModules, .rankTooLarge, .patternsTooCostly:
                throw HTTPError(.unprocessableContent, type: "adapter-over-limits",
                                detail: "stored adapter \(record.digest.hex) is over this server's limits: \(error)")
            default:
                logger.error("stored adapter cannot be read", metadata: ["digest": "\(record.digest.hex)", "error": "\(error)"])
                throw StoredFileError(digest: record.digest)
            }
        } catch {
            logger.error("stored adapter cannot be read", metadata: ["digest": "\(record.digest.hex)", "error": "\(error)"])
            throw StoredFileError(digest: record.digest)
        }
    }

    func loadUnchecked(_ record: AdapterRecord) throws -> LoRAAdapter {
        let weights = try SafetensorsFile(contentsOf: catalog.blobs.url(for: record.weightsBlob))
        switch record.format {
        case .kohya:
            return try LoRAAdapter.kohya(weights: weights, limits: limits.adapter)
        case .peft:
            guard let c = record.configBlob else { throw CatalogError.invalidAdapter(record.digest, "a PEFT adapter without a config blob") }
            let config = try PEFTConfig(json: try Data(contentsOf: catalog.blobs.url(for: c)), limits: limits.adapter)
            return try LoRAAdapter.peft(config: config, weights: weights, limits: limits.adapter)
        }
    }

    /// Free bytes in the data directory's file system (statvfs on the I/O pool).
    func freeBytes() async throws -> Int64 {
        let probe = configuration.freeSpace
        return try await io.run { try probe.freeBytes() }
    }

    /// Refuses with 507 when writing `bytes` more would leave less than `minFreeDiskBytes` free.
    func ensureFreeSpace(for bytes: Int64, what: String) async throws {
        let free = try await freeBytes()
        let (after, overflow) = free.subtractingReportingOverflow(bytes)
        guard overflow || after < limits.minFreeDiskBytes else { return }
        throw HTTPError(.insufficientStorage, type: "insufficient-storage",
                        detail: "\(what) needs \(bytes) bytes and the data directory has \(free) free; the server keeps \(limits.minFreeDiskBytes) bytes free (min free disk)")
    }
}

/// A stored file the server cannot read back (it passed validation when stored).
struct StoredFileError: Error {
    let digest: SHA256Digest
    /// What the digest names: an adapter, or a base model.
    var what = "adapter"
}

/// An adapter whose stored file failed verification (now or earlier): its bytes are never served.
struct BlobDamaged: Error {
    /// The damaged blob, when known (an adapter marked damaged earlier may not say which).
    let blob: SHA256Digest?
    let adapter: SHA256Digest
}

/// Hands a value that is used by one task at a time to a pool thread (the caller awaits the result).
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
