import ArgumentParser
import Foundation
import Logging
import Store

struct ScrubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub",
        abstract: "Verify every stored blob against its SHA-256 and report damage (run it against a stopped or a live data directory).")

    @Option(help: "The service's data directory.")
    var data = "./data"

    func run() throws {
        let logger = Logger(label: "lora-squeeze.scrub")
        let catalog = try AdapterCatalog(directory: URL(fileURLWithPath: data), logger: logger)
        defer { catalog.close() }
        let report = try catalog.blobs.scrub()
        print("checked \(report.checked) blobs, \(ByteFormat.string(Int(report.bytes)))")
        for c in report.corrupt { print("CORRUPT \(c.digest.hex): content hashes to \(c.actual.hex) (\(c.size) bytes)") }
        for f in report.strayFiles { print("stray file \(f)") }
        if !report.corrupt.isEmpty { throw ExitCode(2) }
    }
}
