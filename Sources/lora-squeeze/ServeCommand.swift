import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import Logging
import Service

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the adapter service: uploads, squeeze-on-demand with a cache, fleet normalization, metrics.",
        discussion: """
            Every option can also be set by an environment variable (LORA_SQUEEZE_HOST, LORA_SQUEEZE_PORT,
            LORA_SQUEEZE_DATA, LORA_SQUEEZE_MAX_UPLOAD, LORA_SQUEEZE_CACHE_BUDGET, LORA_SQUEEZE_WORKERS,
            LORA_SQUEEZE_CONCURRENT_SQUEEZES, LORA_SQUEEZE_MAX_CONNECTIONS, LORA_SQUEEZE_LOG_LEVEL); a flag wins.
            Sizes take K, M, G suffixes (powers of 1024).
            """)

    static func env(_ name: String) -> String? { ProcessInfo.processInfo.environment["LORA_SQUEEZE_" + name] }

    @Option(help: "Address to listen on (0.0.0.0, ::, 127.0.0.1, …).")
    var host: String = env("HOST") ?? "0.0.0.0"

    @Option(help: "Port (0 picks a free one).")
    var port: Int = Int(env("PORT") ?? "") ?? 8080

    @Option(help: "Data directory: SQLite catalog and blobs.")
    var data: String = env("DATA") ?? "./data"

    @Option(name: .customLong("max-upload"), help: "Largest upload accepted.")
    var maxUpload: ByteSize = ByteSize(env("MAX_UPLOAD") ?? "") ?? ByteSize(bytes: 8 << 30)

    @Option(name: .customLong("cache-budget"), help: "Byte budget of the squeeze cache (LRU eviction past it).")
    var cacheBudget: ByteSize = ByteSize(env("CACHE_BUDGET") ?? "") ?? ByteSize(bytes: 20 << 30)

    @Option(help: "Threads one squeeze uses (default: the core count).")
    var workers: Int = Int(env("WORKERS") ?? "") ?? ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("concurrent-squeezes"), help: "Squeezes running at once.")
    var concurrentSqueezes: Int = Int(env("CONCURRENT_SQUEEZES") ?? "") ?? 1

    @Option(name: .customLong("max-connections"), help: "Open connections accepted at once.")
    var maxConnections: Int = Int(env("MAX_CONNECTIONS") ?? "") ?? HTTPLimits.default.maxConnections

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = env("LOG_LEVEL") ?? "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard workers >= 1, concurrentSqueezes >= 1, maxConnections >= 1 else {
            throw ValidationError("--workers, --concurrent-squeezes and --max-connections must be at least 1")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level \(logLevel) is not a level") }
    }

    func run() async throws {
        var logger = Logger(label: "lora-squeeze")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var http = ServiceConfiguration.defaultHTTPLimits
        http.maxConnections = maxConnections
        let configuration = ServiceConfiguration(
            dataDirectory: URL(fileURLWithPath: data), host: host, port: port, maxUploadBytes: maxUpload.bytes,
            cacheBudgetBytes: Int64(cacheBudget.bytes), workers: workers, concurrentSqueezes: concurrentSqueezes, http: http)
        for line in configuration.summary { logger.info("\(line)") }
        let service = try AdapterService(configuration: configuration, logger: logger)
        let address = try await service.start()
        logger.info("listening on http://\(address)")

        // SIGTERM (Kubernetes) and SIGINT (a terminal): drain, finish in-flight requests, exit 0.
        let stop = AsyncStream<Int32> { continuation in
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .main)
                source.setEventHandler { continuation.yield(sig) }
                source.resume()
                SignalSources.keep(source)
            }
        }
        for await sig in stop {
            logger.info("signal \(sig): shutting down gracefully (up to \(configuration.shutdownGrace))")
            await service.stop()
            break
        }
        logger.info("stopped")
    }
}

/// Keeps the signal sources alive for the life of the process.
enum SignalSources {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    static func keep(_ s: any DispatchSourceSignal) { sources.append(s) }
}

/// A byte count written with an optional K/M/G suffix (powers of 1024): `512M`, `20G`, `1048576`.
struct ByteSize: ExpressibleByArgument {
    let bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        guard let last = t.last else { return nil }
        let shift: Int
        switch last {
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        case "T": shift = 40
        default: shift = 0
        }
        let digits = shift == 0 ? t : String(t.dropLast())
        guard let n = Int(digits), n >= 0, n <= (Int.max >> shift) else { return nil }
        bytes = n << shift
    }

    init?(argument: String) { self.init(argument) }
}
