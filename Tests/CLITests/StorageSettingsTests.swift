import Foundation
import Testing

/// `serve`'s storage settings (`--catalog`, `--catalog-pool`, `--blobs`, `--replica-id`) and
/// `migrate`, on SQLite (the PostgreSQL side runs in Tests/Fleet against a real cluster).
@Suite("storage settings and migrate")
struct StorageSettingsTests {
    @Test("the defaults: SQLite in the data directory, blobs beside it, the host name as replica")
    func defaults() async throws {
        let r = try await ServeSettingsTests.check()
        #expect(r.succeeded, "\(r.stderr)")
        #expect(r.stdout.contains("catalog: SQLite at DATA/catalog.sqlite"), "\(r.stdout)")
        #expect(r.stdout.contains("/blobs"), "\(r.stdout)")
    }

    @Test("a PostgreSQL URL is accepted with --blobs, its password never printed; without --blobs it is refused")
    func postgresSettings() async throws {
        let url = "postgresql://lora:hunter2@db.internal:5432/lora?sslmode=require"
        let blobs = FileManager.default.temporaryDirectory.appendingPathComponent("blobs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: blobs) }
        let ok = try await ServeSettingsTests.check(["--catalog", url, "--blobs", blobs, "--replica-id", "pod-1", "--catalog-pool", "64"])
        #expect(ok.succeeded, "\(ok.stderr)")
        #expect(ok.stdout.contains("PostgreSQL at postgresql://lora:***@db.internal:5432/lora?sslmode=require"), "\(ok.stdout)")
        #expect(ok.stdout.contains("pool 64 connections, replica pod-1"), "\(ok.stdout)")
        #expect(!ok.stdout.contains("hunter2") && !ok.stderr.contains("hunter2"))
        let noBlobs = try await ServeSettingsTests.check([], env: ["LORA_SQUEEZE_CATALOG": url])
        #expect(!noBlobs.succeeded && noBlobs.stderr.contains("--blobs"), "\(noBlobs.stderr)")
        #expect(!noBlobs.stderr.contains("hunter2"))
    }

    @Test("refused: an unknown catalog, a pool of 0 or 65, an empty sqlite: path, a replica id of 64 characters or with a slash", arguments: [
        (["--catalog", "mysql://db/lora"], "sqlite, sqlite:PATH, or a postgresql:// URL"),
        (["--catalog", "sqlite:"], "sqlite"),
        (["--catalog-pool", "0"], "1 to 64"),
        (["--catalog-pool", "65"], "1 to 64"),
        (["--replica-id", String(repeating: "r", count: 64)], "1 to 63"),
        (["--replica-id", "a/b"], "1 to 63"),
    ])
    func refused(_ args: [String], _ forms: String) async throws {
        let r = try await ServeSettingsTests.check(args)
        #expect(!r.succeeded && r.stderr.contains(forms), "\(args): \(r.stderr)")
    }

    @Test("accepted at the bounds: a pool of 1, a replica id of 63 characters, sqlite:PATH")
    func bounds() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cat-\(UUID().uuidString).sqlite").path
        let r = try await ServeSettingsTests.check(["--catalog-pool", "1", "--replica-id", String(repeating: "r", count: 63),
                                                    "--catalog", "sqlite:" + path])
        #expect(r.succeeded && r.stdout.contains("SQLite at " + path), "\(r.stderr)")
    }

    @Test("migrate copies a data directory's catalog and blobs into an empty one, and refuses to copy twice")
    func migrate() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("migrate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data").path
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let token = try await CLIRunner.run(["token", "create", "--data", data, "--name", "ci", "--scope", "read"])
        #expect(token.succeeded, "\(token.stderr)")
        let target = "sqlite:" + root.appendingPathComponent("fleet.sqlite").path
        let blobs = root.appendingPathComponent("shared").path
        let copied = try await CLIRunner.run(["migrate", "--data", data, "--to", target, "--blobs", blobs])
        #expect(copied.succeeded, "\(copied.stderr)")
        #expect(copied.stdout.contains("tokens: 1 rows") && copied.stdout.contains("verified"), "\(copied.stdout)")
        let listed = try await CLIRunner.run(["token", "list", "--catalog", target, "--blobs", blobs, "--data", data])
        #expect(listed.succeeded && listed.stdout.contains("ci"), "\(listed.stdout) \(listed.stderr)")
        let again = try await CLIRunner.run(["migrate", "--data", data, "--to", target, "--blobs", blobs])
        #expect(!again.succeeded && again.stderr.contains("not empty"), "\(again.stderr)")
        let same = try await CLIRunner.run(["migrate", "--data", data, "--from", target, "--to", target, "--blobs", blobs])
        #expect(!same.succeeded && same.stderr.contains("same catalog"), "\(same.stderr)")
    }
}
