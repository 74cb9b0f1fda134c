import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import Logging
import Service
import SqueezeEngine
import Synchronization
import Store

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the adapter service: uploads, squeeze-on-demand with a cache, fleet normalization, metrics.",
        discussion: """
            Every option can also be set by an environment variable, LORA_SQUEEZE_ and the flag's name in
            capitals with underscores (--max-rank → LORA_SQUEEZE_MAX_RANK); a flag wins. Both are parsed the
            same way, and a value that does not parse or is out of range stops start-up with a message.
            Sizes take K, M, G, T suffixes (powers of 1024), optionally followed by B or iB.
            """)

    @Option(help: "Address to listen on (0.0.0.0, ::, 127.0.0.1, …). [LORA_SQUEEZE_HOST, default 0.0.0.0]")
    var host: String?

    @Option(help: "Port (0 picks a free one). [LORA_SQUEEZE_PORT, default 8080]")
    var port: Int?

    @Option(help: "Data directory: SQLite catalog and blobs. [LORA_SQUEEZE_DATA, default ./data]")
    var data: String?

    @Option(help: "The catalog: sqlite (DATA/catalog.sqlite), sqlite:PATH, or postgresql://user@host:port/db?sslmode=… shared by replicas (with --blobs on a volume they all mount). [LORA_SQUEEZE_CATALOG, default sqlite]")
    var catalog: String?

    @Option(name: .customLong("catalog-pool"), help: "PostgreSQL connections this replica keeps at most. [LORA_SQUEEZE_CATALOG_POOL, default 4]")
    var catalogPool: Int?

    @Option(help: "Blob directory (holds blobs/ and tmp/); with a PostgreSQL catalog, a directory every replica mounts. [LORA_SQUEEZE_BLOBS, default: the data directory]")
    var blobs: String?

    @Option(name: .customLong("replica-id"), help: "This replica's name: 1 to 63 of A-Z a-z 0-9 . _ - (its tmp/ on shared blobs, PostgreSQL's application_name). [LORA_SQUEEZE_REPLICA_ID, default: the host name]")
    var replicaID: String?

    @Option(name: .customLong("max-upload"), help: "Largest upload (413 past it). [default 8G]")
    var maxUpload: ByteSize?

    @Option(name: .customLong("max-base-upload"), help: "Largest base model upload, a whole model directory (413 past it). [default 64G]")
    var maxBaseUpload: ByteSize?

    @Option(name: .customLong("max-config"), help: "Largest adapter_config.json in an upload (413). [default 1M]")
    var maxConfig: ByteSize?

    @Option(name: .customLong("min-free-disk"), help: "Free space the data directory keeps (507 past it). [default 1G]")
    var minFreeDisk: ByteSize?

    @Option(name: .customLong("cache-budget"), help: "Byte budget of the squeeze cache (LRU eviction past it). [default 20G]")
    var cacheBudget: ByteSize?

    @Option(name: .customLong("max-pinned"), help: "Bytes pinned squeezes may hold (409 past it). [default: half the cache budget]")
    var maxPinned: ByteSize?

    @Option(help: "Threads one squeeze uses. [default: the core count]")
    var workers: Int?

    @Option(name: .customLong("concurrent-squeezes"), help: "Squeezes running at once. [default 1]")
    var concurrentSqueezes: Int?

    @Option(name: .customLong("max-rank"), help: "Largest deployment rank a request may ask for (400 past it). [default 512]")
    var maxRank: Int?

    @Option(name: .customLong("max-output"), help: "Largest file one request may have computed (422 past it). [default 4G]")
    var maxOutput: ByteSize?

    @Option(name: .customLong("squeeze-queue"), help: "Squeezes queued or running at once (503 past it). [default 64]")
    var squeezeQueue: Int?

    @Option(name: .customLong("max-client-squeezes"), help: "Squeeze requests one client address may have waiting (429 past it). [default 4]")
    var maxClientSqueezes: Int?

    @Option(name: .customLong("max-job-adapters"), help: "Adapters one normalize job may cover. [default 10000]")
    var maxJobAdapters: Int?

    @Option(name: .customLong("max-modules"), help: "LoRA modules one adapter may have (422 past it). [default 65536]")
    var maxModules: Int?

    @Option(name: .customLong("max-lora-rank"), help: "LoRA rank one uploaded module may have (422 past it). [default 4096]")
    var maxLoRARank: Int?

    @Option(name: .customLong("max-connections"), help: "Open connections accepted at once. [default: 4096, or the file-descriptor limit less 256]")
    var maxConnections: Int?

    @Option(name: .customLong("drain-delay"), help: "After SIGTERM, how long /readyz answers 503 while the server still accepts. [default 5s]")
    var drainDelay: DurationSetting?

    @Option(name: .customLong("shutdown-grace"), help: "Then, how long in-flight requests and jobs get to finish. [default 10s]")
    var shutdownGrace: DurationSetting?

    @Option(name: .customLong("scrub-interval"), help: "How often every blob is rehashed in the background; 0 turns it off. [default 24h]")
    var scrubInterval: DurationSetting?

    @Option(name: .customLong("scrub-rate"), help: "Bytes per second the background scrub reads at most. [default 64M]")
    var scrubRate: ByteSize?

    @Option(name: .customLong("job-retention"), help: "How long finished jobs are kept. [default 7d]")
    var jobRetention: DurationSetting?

    @Option(name: .customLong("max-jobs"), help: "Jobs queued or running at once (429 past it). [default 16]")
    var maxJobs: Int?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain (leaf first) for HTTPS; with --tls-key. SIGHUP reloads it. [LORA_SQUEEZE_TLS_CERT]")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert. [LORA_SQUEEZE_TLS_KEY]")
    var tlsKey: String?

    @Option(name: .customLong("tls-port"), help: "Serve HTTPS on this port beside plain HTTP on --port; without it, --port itself speaks HTTPS. [LORA_SQUEEZE_TLS_PORT]")
    var tlsPort: Int?

    @Option(name: .customLong("tls-ktls"), help: "on: ask OpenSSL for kernel TLS (files sent with SSL_sendfile where the kernel's tls module takes the keys; other connections stay on user-space TLS). [LORA_SQUEEZE_TLS_KTLS, default off]")
    var tlsKtls: String?

    @Option(help: "on: every request but /healthz, /readyz, /openapi.json (and /metrics) needs a Bearer token; off: none does (a trusted network only). [LORA_SQUEEZE_AUTH, default on]")
    var auth: String?

    @Option(name: .customLong("metrics-auth"), help: "on: /metrics needs a read token. [LORA_SQUEEZE_METRICS_AUTH, default off]")
    var metricsAuth: String?

    @Option(name: .customLong("admin-token-file"), help: "A file holding an admin token to install at start-up (a Kubernetes Secret); LORA_SQUEEZE_ADMIN_TOKEN gives the token itself. Without either, a first start writes one to DATA/admin.token.")
    var adminTokenFile: String?

    @Option(name: .customLong("audit-retention"), help: "Audit log entries kept (older ones pruned every minute). [default 100000]")
    var auditRetention: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical. [default info]")
    var logLevel: String?

    @Flag(help: "Check the settings, print them and exit without serving.")
    var check = false

    /// File descriptors kept back from connections: the catalog, blobs being written and read, logs.
    static let descriptorReserve = 256

    /// Every setting resolved from flags, environment and defaults, or the first invalid one.
    func resolve(_ source: SettingSource, descriptorLimit: Int) throws -> (ServiceConfiguration, Logger.Level) {
        let positive = "a positive integer"
        let byteForms = ByteSize.forms
        let level = try source.value(logLevel, flag: "log-level", env: "LOG_LEVEL", default: "info",
                                     forms: "trace, debug, info, notice, warning, error or critical") { Logger.Level(rawValue: $0) != nil }
        var limits = ServiceLimits()
        limits.maxUploadBytes = try source.value(maxUpload, flag: "max-upload", env: "MAX_UPLOAD", default: ByteSize(bytes: limits.maxUploadBytes),
                                                 forms: byteForms) { $0.bytes >= 1 }.bytes
        limits.maxBaseUploadBytes = try source.value(maxBaseUpload, flag: "max-base-upload", env: "MAX_BASE_UPLOAD",
                                                     default: ByteSize(bytes: limits.maxBaseUploadBytes), forms: byteForms) { $0.bytes >= 1 }.bytes
        limits.maxConfigBytes = try source.value(maxConfig, flag: "max-config", env: "MAX_CONFIG", default: ByteSize(bytes: limits.maxConfigBytes),
                                                 forms: byteForms) { $0.bytes >= 1 }.bytes
        limits.minFreeDiskBytes = Int64(try source.value(minFreeDisk, flag: "min-free-disk", env: "MIN_FREE_DISK",
                                                         default: ByteSize(bytes: Int(limits.minFreeDiskBytes)), forms: byteForms).bytes)
        limits.cacheBudgetBytes = Int64(try source.value(cacheBudget, flag: "cache-budget", env: "CACHE_BUDGET",
                                                         default: ByteSize(bytes: Int(limits.cacheBudgetBytes)), forms: byteForms).bytes)
        limits.maxPinnedBytes = try source.optional(maxPinned, flag: "max-pinned", env: "MAX_PINNED", forms: byteForms).map { Int64($0.bytes) }
        limits.maxRank = try source.value(maxRank, flag: "max-rank", env: "MAX_RANK", default: limits.maxRank,
                                          forms: "an integer from 1 to \(AdapterSqueezer.maxDeploymentRank)") {
            (1...AdapterSqueezer.maxDeploymentRank).contains($0)
        }
        limits.maxOutputBytes = Int64(try source.value(maxOutput, flag: "max-output", env: "MAX_OUTPUT",
                                                       default: ByteSize(bytes: Int(limits.maxOutputBytes)), forms: byteForms) { $0.bytes >= 1 }.bytes)
        limits.squeezeQueue = try source.value(squeezeQueue, flag: "squeeze-queue", env: "SQUEEZE_QUEUE", default: limits.squeezeQueue,
                                               forms: positive) { $0 >= 1 }
        limits.maxClientSqueezes = try source.value(maxClientSqueezes, flag: "max-client-squeezes", env: "MAX_CLIENT_SQUEEZES",
                                                    default: limits.maxClientSqueezes, forms: positive) { $0 >= 1 }
        limits.maxJobAdapters = try source.value(maxJobAdapters, flag: "max-job-adapters", env: "MAX_JOB_ADAPTERS",
                                                 default: limits.maxJobAdapters, forms: positive) { $0 >= 1 }
        limits.adapter.maxModules = try source.value(maxModules, flag: "max-modules", env: "MAX_MODULES",
                                                     default: limits.adapter.maxModules, forms: positive) { $0 >= 1 }
        limits.adapter.maxRank = try source.value(maxLoRARank, flag: "max-lora-rank", env: "MAX_LORA_RANK",
                                                  default: limits.adapter.maxRank, forms: positive) { $0 >= 1 }

        let connectionCeiling = max(1, descriptorLimit - Self.descriptorReserve)
        var http = ServiceConfiguration.defaultHTTPLimits
        http.maxConnections = try source.value(maxConnections, flag: "max-connections", env: "MAX_CONNECTIONS",
                                               default: min(http.maxConnections, connectionCeiling),
                                               forms: "an integer from 1 to \(connectionCeiling) (the file-descriptor limit, \(descriptorLimit), less \(Self.descriptorReserve) kept in reserve)") {
            (1...connectionCeiling).contains($0)
        }
        let durations = DurationSetting.forms
        let defaults = ServiceConfiguration()
        let configuration = ServiceConfiguration(
            dataDirectory: URL(fileURLWithPath: try source.value(data, flag: "data", env: "DATA", default: "./data",
                                                                 forms: "a directory path") { !$0.isEmpty }),
            host: try source.value(host, flag: "host", env: "HOST", default: "0.0.0.0", forms: "an IPv4 or IPv6 address") { !$0.isEmpty },
            port: try source.value(port, flag: "port", env: "PORT", default: 8080, forms: "an integer from 0 to 65535") { (0...65535).contains($0) },
            workers: try source.value(workers, flag: "workers", env: "WORKERS", default: ProcessInfo.processInfo.activeProcessorCount,
                                      forms: "an integer from 1 to 1024") { (1...1024).contains($0) },
            concurrentSqueezes: try source.value(concurrentSqueezes, flag: "concurrent-squeezes", env: "CONCURRENT_SQUEEZES",
                                                 default: 1, forms: "an integer from 1 to 64") { (1...64).contains($0) },
            shutdownGrace: try source.value(shutdownGrace, flag: "shutdown-grace", env: "SHUTDOWN_GRACE",
                                            default: DurationSetting(defaults.shutdownGrace), forms: durations).duration,
            drainDelay: try source.value(drainDelay, flag: "drain-delay", env: "DRAIN_DELAY",
                                         default: DurationSetting(defaults.drainDelay), forms: durations).duration,
            scrubInterval: try source.value(scrubInterval, flag: "scrub-interval", env: "SCRUB_INTERVAL",
                                            default: DurationSetting(defaults.scrubInterval), forms: durations + " (0: off)").duration,
            scrubBytesPerSecond: try source.value(scrubRate, flag: "scrub-rate", env: "SCRUB_RATE",
                                                  default: ByteSize(bytes: defaults.scrubBytesPerSecond),
                                                  forms: ByteSize.forms + ", at least 1M") { $0.bytes >= 1 << 20 }.bytes,
            jobRetention: try source.value(jobRetention, flag: "job-retention", env: "JOB_RETENTION",
                                           default: DurationSetting(defaults.jobRetention), forms: durations).duration,
            maxJobs: try source.value(maxJobs, flag: "max-jobs", env: "MAX_JOBS", default: defaults.maxJobs,
                                      forms: "an integer from 1 to 10000") { (1...10_000).contains($0) },
            limits: limits, http: http)
        var withAccess = configuration
        try resolveStorage(source, into: &withAccess)
        withAccess.access = try resolveAccess(source)
        withAccess.tls = try resolveTLS(source, mainPort: configuration.port)
        return (withAccess, Logger.Level(rawValue: level) ?? .info)
    }

    /// `--catalog`, `--catalog-pool`, `--blobs` and `--replica-id`.
    func resolveStorage(_ source: SettingSource, into configuration: inout ServiceConfiguration) throws {
        let text = try source.value(catalog, flag: "catalog", env: "CATALOG", default: "sqlite", forms: CatalogLocation.forms) {
            (try? CatalogLocation(parsing: $0)) != nil
        }
        configuration.catalog = try CatalogLocation(parsing: text)
        configuration.catalogPoolSize = try source.value(catalogPool, flag: "catalog-pool", env: "CATALOG_POOL", default: 4,
                                                         forms: "an integer from 1 to \(PostgresDatabase.Configuration.maxPoolSize)") {
            (1...PostgresDatabase.Configuration.maxPoolSize).contains($0)
        }
        configuration.blobDirectory = try source.optional(blobs, flag: "blobs", env: "BLOBS", forms: "a directory path") { !$0.isEmpty }
            .map { URL(fileURLWithPath: $0) }
        configuration.replicaID = try source.value(replicaID, flag: "replica-id", env: "REPLICA_ID", default: configuration.replicaID,
                                                   forms: "1 to 63 of A-Z a-z 0-9 . _ - (not . or ..)") {
            (try? AdapterCatalog.validateReplica($0)) != nil
        }
        if configuration.catalog.isShared, configuration.blobDirectory == nil {
            throw ValidationError("a PostgreSQL catalog is shared by replicas, and so must their blobs be: give --blobs (LORA_SQUEEZE_BLOBS) a directory every replica mounts")
        }
        configuration.freeSpace = FileSystemFreeSpace(path: configuration.blobRoot.path)
    }

    /// The forms of an on/off setting.
    private static let onOff = "on or off"
    private static func isOnOff(_ value: String) -> Bool { value == "on" || value == "off" }

    /// `--tls-cert`, `--tls-key`, `--tls-port` and `--tls-ktls`: both files or neither; a port and
    /// kernel TLS only with them.
    func resolveTLS(_ source: SettingSource, mainPort: Int) throws -> TLSSettings? {
        let cert = try source.optional(tlsCert, flag: "tls-cert", env: "TLS_CERT", forms: "a PEM file path") { !$0.isEmpty }
        let key = try source.optional(tlsKey, flag: "tls-key", env: "TLS_KEY", forms: "a PEM file path") { !$0.isEmpty }
        let port = try source.optional(tlsPort, flag: "tls-port", env: "TLS_PORT", forms: "an integer from 0 to 65535") {
            (0...65535).contains($0)
        }
        let kernelTLS = try source.value(tlsKtls, flag: "tls-ktls", env: "TLS_KTLS", default: "off", forms: Self.onOff, valid: Self.isOnOff) == "on"
        switch (cert, key) {
        case (nil, nil):
            if port != nil { throw ValidationError("--tls-port needs --tls-cert and --tls-key") }
            if kernelTLS { throw ValidationError("--tls-ktls on needs --tls-cert and --tls-key") }
            return nil
        case (let cert?, let key?):
            if let port, port == mainPort, port != 0 { throw ValidationError("--tls-port \(port) is --port too; give them different ports, or leave --tls-port out to serve HTTPS on --port") }
            for (flag, path) in [("--tls-cert", cert), ("--tls-key", key)] where !FileManager.default.isReadableFile(atPath: path) {
                throw ValidationError("\(flag) \(path) cannot be read")
            }
            return TLSSettings(certificatePath: cert, keyPath: key, port: port, kernelTLS: kernelTLS)
        default:
            throw ValidationError("give both --tls-cert and --tls-key (or LORA_SQUEEZE_TLS_CERT and LORA_SQUEEZE_TLS_KEY), or neither")
        }
    }

    /// `--auth`, `--metrics-auth`, the admin token seed and `--audit-retention`.
    func resolveAccess(_ source: SettingSource) throws -> AccessSettings {
        var settings = AccessSettings()
        settings.enabled = try source.value(auth, flag: "auth", env: "AUTH", default: "on", forms: Self.onOff, valid: Self.isOnOff) == "on"
        settings.metricsNeedToken = try source.value(metricsAuth, flag: "metrics-auth", env: "METRICS_AUTH", default: "off",
                                                     forms: Self.onOff, valid: Self.isOnOff) == "on"
        settings.auditRetention = try source.value(auditRetention, flag: "audit-retention", env: "AUDIT_RETENTION",
                                                   default: settings.auditRetention, forms: "an integer from 100 to 100000000") {
            (100...100_000_000).contains($0)
        }
        let file = try source.optional(adminTokenFile, flag: "admin-token-file", env: "ADMIN_TOKEN_FILE", forms: "a file path") { !$0.isEmpty }
        let inline = source.environment[SettingSource.prefix + "ADMIN_TOKEN"]
        if file != nil, inline != nil {
            throw ValidationError("give the admin token either in LORA_SQUEEZE_ADMIN_TOKEN or with --admin-token-file, not both")
        }
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("--admin-token-file \(file) cannot be read")
            }
            settings.adminTokenSeed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let inline {
            settings.adminTokenSeed = inline.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let seed = settings.adminTokenSeed, !TokenIssuer.isWellFormed(seed) {
            // Never echoed: it may be a real secret with a typo.
            throw ValidationError("the admin token seed (\(file.map { "--admin-token-file \($0)" } ?? "LORA_SQUEEZE_ADMIN_TOKEN")) is not of the form lsq_ and 43 characters of A-Z a-z 0-9; make one with `lora-squeeze token generate`")
        }
        return settings
    }

    func run() async throws {
        let descriptors = FileDescriptorLimit.raiseSoftToHard()
        let source = SettingSource()
        let (configuration, level) = try resolve(source, descriptorLimit: descriptors.soft)
        // The access log writes a line per request: buffered (64 KiB or 100 ms, warnings at once, the
        // rest at exit), in swift-log's own line format.
        LoggingSystem.bootstrap { BufferedLogHandler(label: $0, output: .standardError) }
        var logger = Logger(label: "lora-squeeze")
        logger.logLevel = level
        for name in source.unknownVariables {
            logger.warning("\(name) is set but no setting reads it (misspelt?); it is ignored")
        }
        logger.info("file descriptors: \(descriptors.soft) (hard limit \(descriptors.hard))")
        for line in configuration.summary { logger.info("\(line)") }
        if check {
            print((["settings are valid:"] + configuration.summary.map { "  " + $0 }).joined(separator: "\n"))
            return
        }
        let service = try AdapterService(configuration: configuration, logger: logger)
        let address = try await service.start()
        if let secure = service.tlsAddress {
            if secure != address { logger.info("listening on http://\(address)") }
            logger.info("listening on https://\(secure)")
        } else {
            logger.info("listening on http://\(address)")
        }
        // SIGHUP: read the certificate and key again (cert-manager rotated them). New connections get
        // the new pair; a pair that does not load is logged and the current one kept.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler {
            do {
                try service.reloadTLS()
                logger.notice("SIGHUP: TLS certificate and key reloaded")
            } catch {
                logger.error("SIGHUP: the new TLS certificate or key cannot be used; still serving the previous pair: \(error)")
            }
        }
        hangup.resume()
        SignalSources.keepHangup(hangup)
        logger.info("\(service.accessSummary)")

        // SIGTERM (Kubernetes) and SIGINT (a terminal): drain (see AdapterService.stop), exit 0. A second
        // signal exits at once with status 1: everything acknowledged is already durable.
        let signals = AsyncStream<Int32> { continuation in
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                // A global queue, not the main one: a second signal must work however busy the process is.
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler {
                    if SignalSources.count() > 1 {
                        logger.warning("signal \(sig) again: exiting now, without waiting for in-flight work")
                        Glibc.exit(1)
                    }
                    continuation.yield(sig)
                }
                source.resume()
                SignalSources.keep(source)
            }
        }
        for await sig in signals {
            logger.info("signal \(sig): shutting down gracefully (drain \(configuration.drainDelay), then up to \(configuration.shutdownGrace)); send it again to exit at once")
            await service.stop()
            break
        }
        logger.info("stopped")
    }
}

/// Keeps the signal sources alive for the life of the process, and counts the signals received.
enum SignalSources {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    private static let received = Atomic(0)
    static func keep(_ s: any DispatchSourceSignal) { sources.append(s) }
    /// The SIGHUP source (TLS reload); not counted as a shutdown signal.
    static func keepHangup(_ s: any DispatchSourceSignal) { sources.append(s) }
    /// Counts one more signal; returns how many there have been.
    static func count() -> Int { received.add(1, ordering: .relaxed).newValue }
}
