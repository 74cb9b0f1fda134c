import ArgumentParser
import Foundation
import Logging
import Store

/// `--data`, `--catalog` and `--blobs` for the tools that open the catalog beside a running server
/// (`token`, `scrub`): the same values `serve` was given, by flag or by the same environment
/// variables. The catalog is opened `besideRunningServer`: nothing in `tmp/` is cleaned and no
/// unreferenced blob removed, since they may be a live server's.
struct StorageOptions: ParsableArguments {
    @Option(help: "The service's data directory. [LORA_SQUEEZE_DATA, default ./data]")
    var data: String?

    @Option(help: "The catalog, as serve's --catalog: sqlite, sqlite:PATH or a postgresql:// URL. [LORA_SQUEEZE_CATALOG, default sqlite]")
    var catalog: String?

    @Option(help: "The blob directory, as serve's --blobs. [LORA_SQUEEZE_BLOBS, default: the data directory]")
    var blobs: String?

    /// Opens the catalog these options name.
    func open(label: String) throws -> AdapterCatalog {
        let environment = ProcessInfo.processInfo.environment
        let path = data ?? environment["LORA_SQUEEZE_DATA"] ?? "./data"
        let location: CatalogLocation
        do { location = try CatalogLocation(parsing: catalog ?? environment["LORA_SQUEEZE_CATALOG"] ?? "sqlite") } catch {
            throw ValidationError("--catalog: \(error)")
        }
        let blobDirectory = (blobs ?? environment["LORA_SQUEEZE_BLOBS"]).map { URL(fileURLWithPath: $0) }
        if case .sqlite(nil) = location {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("\(path) is not a data directory (start the service once, or give --data)")
            }
        }
        if location.isShared, blobDirectory == nil {
            throw ValidationError("a PostgreSQL catalog needs --blobs (LORA_SQUEEZE_BLOBS), the directory its replicas share")
        }
        var logger = Logger(label: label)
        logger.logLevel = .warning
        // A tool writes no blob: its replica name only names a tmp/ directory it never fills.
        let configuration = AdapterCatalog.configuration(location, poolSize: 1, blobDirectory: blobDirectory,
                                                         replica: location.isShared ? "tools" : nil).besideRunningServer
        return try AdapterCatalog(directory: URL(fileURLWithPath: path), configuration: configuration, logger: logger)
    }
}
