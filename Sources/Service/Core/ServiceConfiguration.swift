import Foundation
import HTTPServer

/// Everything `lora-squeeze serve` can set, with defaults: one value, printed at start-up.
public struct ServiceConfiguration: Sendable {
    /// Where the SQLite catalog and the blobs live (`./data`).
    public var dataDirectory: URL
    public var host: String
    public var port: Int
    /// The largest upload accepted (413 past it), 8 GiB by default.
    public var maxUploadBytes: Int
    /// The largest `adapter_config.json` (in an upload, multipart part or tar entry): 1 MiB.
    public var maxConfigBytes: Int
    /// The squeeze cache's byte budget; least recently used unpinned entries go first. 20 GiB.
    public var cacheBudgetBytes: Int64
    /// Threads a squeeze uses (modules in parallel, one BLAS thread each); the core count by default.
    public var workers: Int
    /// Squeezes running at once (each uses `workers` threads); more wait their turn.
    public var concurrentSqueezes: Int
    /// The largest deployment rank a request may ask for.
    public var maxRank: Int
    /// Adapters one normalize job may cover.
    public var maxJobAdapters: Int
    /// How long shutdown waits for in-flight requests.
    public var shutdownGrace: Duration
    public var http: HTTPLimits

    public init(dataDirectory: URL = URL(fileURLWithPath: "./data"), host: String = "0.0.0.0", port: Int = 8080,
                maxUploadBytes: Int = 8 << 30, maxConfigBytes: Int = 1 << 20, cacheBudgetBytes: Int64 = 20 << 30,
                workers: Int = ProcessInfo.processInfo.activeProcessorCount, concurrentSqueezes: Int = 1,
                maxRank: Int = 4096, maxJobAdapters: Int = 10_000, shutdownGrace: Duration = .seconds(10),
                http: HTTPLimits = Self.defaultHTTPLimits) {
        self.dataDirectory = dataDirectory
        self.host = host
        self.port = port
        self.maxUploadBytes = maxUploadBytes
        self.maxConfigBytes = maxConfigBytes
        self.cacheBudgetBytes = cacheBudgetBytes
        self.workers = workers
        self.concurrentSqueezes = concurrentSqueezes
        self.maxRank = maxRank
        self.maxJobAdapters = maxJobAdapters
        self.shutdownGrace = shutdownGrace
        self.http = http
    }

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
            "listen: \(host):\(port)",
            "max upload: \(maxUploadBytes) bytes, max config: \(maxConfigBytes) bytes",
            "cache budget: \(cacheBudgetBytes) bytes",
            "squeeze workers: \(workers) threads, \(concurrentSqueezes) squeeze(s) at once, max rank \(maxRank)",
            "http: \(http.maxConnections) connections, header timeout \(http.headerTimeout), body idle \(http.bodyIdleTimeout), handler \(http.handlerTimeout)",
        ]
    }
}
