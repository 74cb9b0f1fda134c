import Foundation
import Testing
import TestSupport

/// `lora-squeeze token …` on a data directory, the auth settings of `serve`, and a real server run
/// that is searched afterwards for every token it saw: the catalog's files, its log and its answers.
@Suite("token CLI and auth settings")
struct TokenCLITests {
    static func dataDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("token-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("create prints the token once; list never shows it; revoke marks it; generate records nothing")
    func lifecycle() async throws {
        let dir = try Self.dataDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let created = try await CLIRunner.run(["token", "create", "--data", dir.path, "--name", "fleet-eu", "--scope", "read",
                                               "--namespace", "team-a", "--expires-in", "90d"])
        #expect(created.succeeded, "\(created.stderr)")
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("lsq_") && token.count == 47, "\(created.stdout)")
        #expect(created.stderr.contains("not shown again"))
        let listed = try await CLIRunner.run(["token", "list", "--data", dir.path, "--json"])
        #expect(listed.succeeded && !listed.stdout.contains(token))
        let object = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any]
        let items = object?["items"] as? [[String: Any]] ?? []
        try #require(items.count == 1)
        let id = try #require(items[0]["id"] as? String)
        #expect(items[0]["namespace"] as? String == "team-a" && items[0]["scope"] as? String == "read" && items[0]["state"] as? String == "active")
        #expect(items[0]["expiresAt"] as? String != nil)
        let table = try await CLIRunner.run(["token", "list", "--data", dir.path])
        #expect(table.stdout.contains(id) && table.stdout.contains("fleet-eu") && !table.stdout.contains(token))
        let revoked = try await CLIRunner.run(["token", "revoke", "--data", dir.path, id])
        #expect(revoked.succeeded && revoked.stdout.contains(id))
        let after = try await CLIRunner.run(["token", "list", "--data", dir.path, "--json"])
        #expect(after.stdout.contains("\"state\":\"revoked\""), "\(after.stdout)")
        let generated = try await CLIRunner.run(["token", "generate"])
        let fresh = generated.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(generated.succeeded && fresh.hasPrefix("lsq_") && fresh.count == 47 && fresh != token)
        #expect(try await CLIRunner.run(["token", "list", "--data", dir.path, "--json"]).stdout == after.stdout, "generate records nothing")
    }

    @Test("token commands refuse bad input by name", arguments: [
        (["create", "--name", "x", "--scope", "owner"], "read, write or admin"),
        (["create", "--name", "x", "--scope", "read", "--expires-in", "3651d"], "--expires-in"),
        (["create", "--name", "a b", "--scope", "read"], "name"),
        (["create", "--name", "x", "--scope", "read", "--namespace", "a/b"], "namespace"),
        (["revoke", "0123456789abcdef"], "no token"),
        (["revoke", "nope"], "token id"),
    ])
    func refusals(_ args: [String], _ fragment: String) async throws {
        let dir = try Self.dataDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try await CLIRunner.run(["token"] + [args[0], "--data", dir.path] + args.dropFirst())
        #expect(!r.succeeded && r.stderr.contains(fragment), "\(args): \(r.stderr)")
        let missing = try await CLIRunner.run(["token", "list", "--data", dir.path + "/nowhere"])
        #expect(!missing.succeeded && missing.stderr.contains("not a data directory"))
    }

    @Test("serve's auth settings: parsed, printed, and a bad seed refused without being echoed")
    func serveSettings() async throws {
        let dir = try Self.dataDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ["serve", "--check", "--data", dir.path]
        let defaults = try await CLIRunner.run(base)
        #expect(defaults.succeeded && defaults.stdout.contains("auth: on") && defaults.stdout.contains("/metrics open"), "\(defaults.stdout)")
        let off = try await CLIRunner.run(base + ["--auth", "off", "--metrics-auth", "on"])
        #expect(off.stdout.contains("auth: OFF") && off.stdout.contains("/metrics needs a read token"))
        let bad = try await CLIRunner.run(base, environment: ["LORA_SQUEEZE_AUTH": "maybe"])
        #expect(!bad.succeeded && bad.stderr.contains("LORA_SQUEEZE_AUTH"))
        let secretish = "lsq_" + String(repeating: "s", count: 40)  // three characters short
        let seed = try await CLIRunner.run(base, environment: ["LORA_SQUEEZE_ADMIN_TOKEN": secretish])
        #expect(!seed.succeeded && seed.stderr.contains("token generate") && !seed.stderr.contains(secretish) && !seed.stdout.contains(secretish))
        let file = dir.appendingPathComponent("seed")
        try TestTokens.make().write(to: file, atomically: true, encoding: .utf8)
        let both = try await CLIRunner.run(base + ["--admin-token-file", file.path], environment: ["LORA_SQUEEZE_ADMIN_TOKEN": TestTokens.make()])
        #expect(!both.succeeded && both.stderr.contains("not both"))
        #expect(try await CLIRunner.run(base + ["--admin-token-file", file.path]).succeeded)
        #expect(!(try await CLIRunner.run(base + ["--audit-retention", "99"])).succeeded)
    }

    @Test("a real server never writes a token to its catalog, its log or an answer; a CLI revocation lands within 5 s")
    func noLeaks() async throws {
        let server = try ServeProcess(["--log-level", "debug", "--scrub-interval", "0", "--min-free-disk", "0"])
        let admin = try #require(server.adminToken)
        let http = HTTPTestClient(port: server.port).bearer(admin)
        var answers = ""
        let created = try await http.send("POST", "/v1/tokens", json: #"{"name": "leak-check", "scope": "read"}"#)
        #expect(created.status == 201)
        let reader = try created.jsonObject()["token"] as? String ?? ""
        let readerID = try created.jsonObject()["id"] as? String ?? ""
        let wrong = TestTokens.make()
        for (client, path) in [(http.bearer(reader), "/v1/adapters"), (http.bearer(wrong), "/v1/adapters"),
                               (http.with(defaultHeaders: [("Authorization", "Bearer \(reader)x")]), "/v1/adapters"),
                               (http, "/v1/adapters/\(reader)"), (http, "/v1/adapters?name=\(wrong)"), (http, "/nowhere/\(admin)"),
                               (http, "/v1/tokens"), (http, "/v1/audit")] {
            let response = try await client.get(path)
            answers += response.text + response.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
        }
        let started = ContinuousClock.now
        let revoke = try await CLIRunner.run(["token", "revoke", "--data", server.scratch.appendingPathComponent("data").path, readerID])
        #expect(revoke.succeeded, "\(revoke.stderr)")
        var refused = false
        while !refused, ContinuousClock.now - started < .seconds(8) {
            refused = try await http.bearer(reader).get("/v1/adapters").status == 401
            if !refused { try await Task.sleep(for: .milliseconds(100)) }
        }
        let took = ContinuousClock.now - started
        #expect(refused && took < .milliseconds(5500), "a CLI revocation took \(took)")
        server.signal(SIGTERM)
        _ = server.waitForExit(timeout: .seconds(20))

        var haystacks = ["log": server.log, "answers": answers]
        let data = server.scratch.appendingPathComponent("data")
        for file in try FileManager.default.contentsOfDirectory(atPath: data.path) where file.hasPrefix("catalog.sqlite") {
            haystacks[file] = String(decoding: try Data(contentsOf: data.appendingPathComponent(file)), as: UTF8.self)
        }
        #expect(haystacks["log"]?.contains("GET /v1/adapters") == true, "the log was read")
        for (label, secret) in [("admin", admin), ("reader", reader), ("wrong", wrong)] {
            for (place, text) in haystacks {
                #expect(!text.contains(String(secret.dropFirst(4).prefix(20))), "the \(label) token appears in \(place)")
            }
        }
    }
}
