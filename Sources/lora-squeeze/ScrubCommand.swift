import ArgumentParser
import Foundation
import Logging
import Store

struct ScrubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub",
        abstract: "Verify every stored blob against its SHA-256 and report damage, and the damage the service quarantined (run it against a stopped or a live data directory; it changes nothing).")

    @OptionGroup var storage: StorageOptions

    func run() throws {
        let catalog = try storage.open(label: "lora-squeeze.scrub")
        defer { catalog.close() }
        let report = try catalog.blobs.scrub()
        print("checked \(report.checked) blobs, \(ByteFormat.string(Int(report.bytes)))")
        for c in report.corrupt { print("CORRUPT \(c.digest.hex): content hashes to \(c.actual.hex) (\(c.size) bytes)") }
        for f in report.strayFiles { print("stray file \(f)") }
        // Damage the service found earlier (on a read or its own scrub) and quarantined: the adapters
        // using these answer blob-damaged until the same content is uploaded again.
        let damaged = try catalog.damagedBlobs()
        for d in damaged {
            print("DAMAGED \(d.digest.hex): quarantined \(ISO8601DateFormatter().string(from: d.foundAt)) (content hashed to \(d.actual?.hex ?? "unknown")); upload the adapter again to repair it")
        }
        if !report.corrupt.isEmpty || !damaged.isEmpty { throw ExitCode(2) }
    }
}
