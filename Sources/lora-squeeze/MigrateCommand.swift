import ArgumentParser
import Foundation
import Logging
import Store

/// `lora-squeeze migrate`: a single node's catalog and blobs into a fleet's PostgreSQL catalog and
/// shared blob directory (or any catalog into an empty one).
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy a catalog and its blobs into an empty one: a single node's SQLite into a fleet's PostgreSQL and shared --blobs. Stop the source's server first; the source is only read.",
        discussion: """
            lora-squeeze migrate --data ./data --to 'postgresql://lora@db/lora' --blobs /mnt/blobs
            Every blob is re-hashed on the way (a damaged one stops the copy) and hard-linked when both
            directories are on one filesystem (--copy copies instead); the rows go in one transaction,
            so a failure leaves the destination empty.
            """)

    @Option(help: "The source's data directory. [default ./data]")
    var data = "./data"

    @Option(help: "The source catalog: sqlite (DATA/catalog.sqlite), sqlite:PATH or a postgresql:// URL. [default sqlite]")
    var from = "sqlite"

    @Option(name: .customLong("from-blobs"), help: "The source's blob directory, when not the data directory.")
    var fromBlobs: String?

    @Option(help: "The destination catalog: a postgresql:// URL (or sqlite:PATH); it must be empty.")
    var to: String

    @Option(help: "The destination's blob directory (holds blobs/ and tmp/): the one the fleet's replicas mount.")
    var blobs: String

    @Flag(help: "Copy blob files even where a hard link would do.")
    var copy = false

    func run() throws {
        let source: CatalogLocation, destination: CatalogLocation
        do {
            source = try CatalogLocation(parsing: from)
            destination = try CatalogLocation(parsing: to)
        } catch {
            throw ValidationError("\(error)")
        }
        if source == destination { throw ValidationError("--from and --to name the same catalog") }
        var logger = Logger(label: "lora-squeeze.migrate")
        logger.logLevel = .warning
        let from = try AdapterCatalog(directory: URL(fileURLWithPath: data),
                                      configuration: AdapterCatalog.configuration(source, poolSize: 1,
                                                                                  blobDirectory: fromBlobs.map { URL(fileURLWithPath: $0) },
                                                                                  replica: source.isShared ? "migrate-source" : nil).besideRunningServer,
                                      logger: logger)
        defer { from.close() }
        let blobDirectory = URL(fileURLWithPath: blobs)
        let to = try AdapterCatalog(directory: blobDirectory,
                                    configuration: AdapterCatalog.configuration(destination, poolSize: 1, blobDirectory: blobDirectory,
                                                                                replica: destination.isShared ? "migrate" : nil),
                                    logger: logger)
        defer { to.close() }
        let started = ContinuousClock.now
        let report = try from.copy(to: to, preferLinks: !copy)
        let seconds = (ContinuousClock.now - started).components
        print("copied \(from.location) → \(to.location) in \(seconds.seconds).\(String(format: "%03d", seconds.attoseconds / 1_000_000_000_000_000)) s")
        for (table, count) in report.rows.sorted(by: { $0.key < $1.key }) where count > 0 { print("  \(table): \(count) rows") }
        print("  blobs: \(report.blobsLinked) linked, \(report.blobsCopied) copied, \(report.blobsPresent) already there; \(report.blobBytes) bytes verified")
    }
}
