import Foundation
import HTTPServer
import Store

/// Everything `lora-squeeze serve` can set, with defaults: one value, printed at start-up.
public struct ServiceConfiguration: Sendable {
    /// Where the SQLite catalog and the blobs live (`./data`), and the admin token file.
    public var dataDirectory: URL
    /// Where the catalog's rows live (`--catalog`): SQLite in the data directory by default.
    public var catalog: CatalogLocation = .sqlite(path: nil)
    /// PostgreSQL connections this replica keeps at most (`--catalog-pool`).
    public var catalogPoolSize: Int = 4
    /// Where the blobs live when not in the data directory (`--blobs`): the blob store's root,
    /// holding `blobs/` and `tmp/`; with a PostgreSQL catalog, a directory every replica mounts.
    public var blobDirectory: URL?
    /// This process's name among replicas (`--replica-id`): its temporary directory on shared blob
    /// storage, PostgreSQL's `application_name`. The host name by default (a pod's name).
    public var replicaID: String = ServiceConfiguration.defaultReplicaID
    public var host: String
    public var port: Int
    /// Threads a squeeze uses (modules in parallel, one BLAS thread each); the core count by default.
    public var workers: Int
    /// Squeezes running at once (each uses `workers` threads); more wait their turn in the queue.
    public var concurrentSqueezes: Int
    /// How long shutdown waits for in-flight requests (after the drain delay).
    public var shutdownGrace: Duration
    /// After SIGTERM, how long the server keeps accepting while `/readyz` answers 503, so load
    /// balancers and Kubernetes endpoints stop sending before connections are refused.
    public var drainDelay: Duration
    /// How often the background scrub rehashes every blob; zero turns it off.
    public var scrubInterval: Duration
    /// Bytes per second the background scrub reads at most.
    public var scrubBytesPerSecond: Int
    /// How long finished jobs are kept.
    public var jobRetention: Duration
    /// Jobs queued or running at once (429 past it).
    public var maxJobs: Int
    /// How often the upkeep loop writes the cache hits kept in memory (and looks at jobs and the
    /// scrub's schedule). Not a flag: a second bounds how stale `last_used_at` can be after a crash;
    /// tests lengthen it to observe a hit that has not been written.
    public var maintenanceInterval: Duration = .seconds(1)
    /// HTTPS: the certificate and key, and the port that speaks it (nil: `port` itself). nil: plain HTTP only.
    public var tls: TLSSettings?
    /// Tokens, scopes and the audit log.
    public var access: AccessSettings = AccessSettings()
    /// The failure budget and caches of authentication (not flags; tests change them).
    var authLimits = AuthLimits()
    /// The dashboard's bounds (sessions, page sizes, the normalize preview).
    var dashboardLimits = DashboardLimits()
    /// What one request may cost.
    public var limits: ServiceLimits
    public var http: HTTPLimits
    /// Free space in the data directory's file system; tests substitute their own.
    public var freeSpace: any FreeSpaceProbe

    public init(dataDirectory: URL = URL(fileURLWithPath: "./data"), host: String = "0.0.0.0", port: Int = 8080,
                workers: Int = ProcessInfo.processInfo.activeProcessorCount, concurrentSqueezes: Int = 1,
                shutdownGrace: Duration = .seconds(10), drainDelay: Duration = .seconds(5),
                scrubInterval: Duration = .seconds(86_400), scrubBytesPerSecond: Int = 64 << 20,
                jobRetention: Duration = .seconds(7 * 86_400), maxJobs: Int = 16,
                limits: ServiceLimits = ServiceLimits(),
                http: HTTPLimits = Self.defaultHTTPLimits, freeSpace: (any FreeSpaceProbe)? = nil) {
        self.dataDirectory = dataDirectory
        self.host = host
        self.port = port
        self.workers = workers
        self.concurrentSqueezes = concurrentSqueezes
        self.shutdownGrace = shutdownGrace
        self.drainDelay = drainDelay
        self.scrubInterval = scrubInterval
        self.scrubBytesPerSecond = max(1, scrubBytesPerSecond)
        self.jobRetention = jobRetention
        self.maxJobs = max(1, maxJobs)
        self.limits = limits
        self.http = http
        self.freeSpace = freeSpace ?? FileSystemFreeSpace(path: dataDirectory.path)
    }

    /// The host name reduced to what a replica name may hold (`A-Z a-z 0-9 . _ -`, 63 at most).
    public static var defaultReplicaID: String { AdapterCatalog.replicaName(from: ProcessInfo.processInfo.hostName) }

    /// The catalog's settings, from `catalog`, `catalogPoolSize`, `blobDirectory` and `replicaID`.
    public var catalogConfiguration: AdapterCatalog.Configuration {
        AdapterCatalog.configuration(catalog, poolSize: catalogPoolSize, blobDirectory: blobDirectory, replica: replicaID)
    }

    /// Where uploaded bytes land: the blob directory, or the data directory.
    public var blobRoot: URL { blobDirectory ?? dataDirectory }

    /// The HTTP server's defaults, except the handler deadline: an upload handler reads its whole
    /// body, and a multi-gigabyte adapter from a slow client takes minutes (a stalled one is still
    /// cut off by the body-idle timeout), so the deadline is an hour instead of a minute.
    public static var defaultHTTPLimits: HTTPLimits {
        var limits = HTTPLimits.default
        limits.handlerTimeout = .seconds(3600)
        return limits
    }

    /// One line per setting, for the start-up log.
    public var summary: [String] {
        [
            "data directory: \(dataDirectory.path)",
            "catalog: \(catalog)\(catalog.isShared ? ", pool \(catalogPoolSize) connections, replica \(replicaID)" : "")",
            "blobs: \(blobRoot.path)/blobs\(catalog.isShared ? " (shared; this replica's temporary files in tmp/\(replicaID))" : "")",
            tls.map { t in t.port.map { "listen: \(host):\(port) (HTTP) and \(host):\($0) (HTTPS)" } ?? "listen: \(host):\(port) (HTTPS)" }
                ?? "listen: \(host):\(port) (HTTP; no TLS: tokens cross the network in clear)",
            tls.map { "tls: certificate \($0.certificatePath), key \($0.keyPath); SIGHUP reloads them; kernel TLS \($0.kernelTLS ? "requested" : "off")" } ?? "tls: off",
            "squeeze workers: \(workers) threads, \(concurrentSqueezes) squeeze(s) at once",
            "http: \(http.maxConnections) connections, header timeout \(http.headerTimeout), body idle \(http.bodyIdleTimeout), handler \(http.handlerTimeout)",
            "shutdown: drain delay \(drainDelay), grace \(shutdownGrace)",
            "scrub: every \(scrubInterval == .zero ? "never (off)" : "\(scrubInterval)"), at most \(scrubBytesPerSecond) bytes/s",
            "jobs: at most \(maxJobs) queued or running, finished ones kept \(jobRetention)",
            "auth: \(access.enabled ? "on (Bearer tokens)" : "OFF: anyone who reaches the port may do anything"), /metrics \(access.metricsNeedToken ? "needs a read token" : "open"), audit log keeps \(access.auditRetention) entries",
        ] + limits.summary
    }
}
