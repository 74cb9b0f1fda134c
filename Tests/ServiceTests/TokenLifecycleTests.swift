import Foundation
@testable import Service
import Testing
import TestSupport

/// Tokens end to end over HTTP: what each scope may do, revocation and expiry, the first start's
/// admin token, the failure budget, the audit log, and the token API's bounds.
@Suite("Tokens end to end")
struct TokenLifecycleTests {
    @Test("upload needs write, download needs read, delete needs admin")
    func scopesEndToEnd() async throws {
        let files = try ServiceFixtures.peft(seed: 911)
        try await ServiceHarness.with { s in
            let read = s.client(token: try await s.createToken(name: "reader", scope: "read").token)
            let write = s.client(token: try await s.createToken(name: "writer", scope: "write").token)
            let (type, body) = UploadBody.peftMultipart(config: files.config, weights: files.weights)
            let refused = try await read.request("POST", "/v1/adapters?name=chat", headers: [("Content-Type", type)], body: body)
            try expectProblem(refused, status: 403, detailContains: ["scope write", "scope read"], "read uploads")
            let uploaded = try await write.request("POST", "/v1/adapters?name=chat", headers: [("Content-Type", type)], body: body)
            try #require(uploaded.status == 201, "\(uploaded.text)")
            let digest = try uploaded.decode(AdapterJSON.self).digest
            let file = try await read.get("/v1/adapters/chat/files/adapter_model.safetensors")
            #expect(file.status == 200 && file.body == files.weights)
            #expect(try await read.get("/v1/adapters/chat/squeezed/4/adapter_model.safetensors").status == 200)
            for client in [read, write] {
                try expectProblem(try await client.request("DELETE", "/v1/adapters/\(digest)"), status: 403,
                                  detailContains: ["scope admin"], "delete without admin")
            }
            #expect(try await s.anonymous.get("/v1/adapters/chat").status == 401)
            #expect(try await s.client.request("DELETE", "/v1/adapters/\(digest)").status == 200)
            #expect(try await read.get("/v1/adapters/chat").status == 404)
        }
    }

    @Test("a revoked token is refused on the very next request; an expired one once its time is up")
    func revocationAndExpiry() async throws {
        try await ServiceHarness.with { s in
            let (id, token) = try await s.createToken(name: "soon-gone", scope: "read")
            let client = s.client(token: token)
            #expect(try await client.get("/v1/adapters").status == 200)
            #expect(try await s.client.request("DELETE", "/v1/tokens/\(id)").status == 204)
            try expectProblem(try await client.get("/v1/adapters"), status: 401, "revoked")
            #expect(try await s.client.request("DELETE", "/v1/tokens/\(id)").status == 204, "revoking twice is harmless")
            #expect(try await s.client.request("DELETE", "/v1/tokens/0123456789abcdef").status == 404)
            #expect(try await s.client.request("DELETE", "/v1/tokens/XYZ").status == 400)

            let short = s.client(token: try await s.createToken(name: "short", scope: "read", expiresIn: "2s").token)
            #expect(try await short.get("/v1/adapters").status == 200)
            try await Task.sleep(for: .milliseconds(2100))
            try expectProblem(try await short.get("/v1/adapters"), status: 401, "expired")

            let listed = try await s.get("/v1/tokens").jsonObject()["items"] as? [[String: Any]] ?? []
            let states = Dictionary(uniqueKeysWithValues: listed.map { ($0["name"] as? String ?? "", $0["state"] as? String ?? "") })
            #expect(states["soon-gone"] == "revoked" && states["short"] == "expired", "\(states)")
            #expect(!listed.contains { $0["token"] != nil }, "a listing never shows a secret")
        }
    }

    @Test("without a seed the first start writes an admin token to DATA/admin.token, mode 0600, once")
    func firstStartToken() async throws {
        let directory = AdapterFixture.temporaryDirectory("first-start")
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = ServiceHarness.configuration(directory: directory) { $0.access.adminTokenSeed = nil }
        var running = try await ServiceHarness.start(configuration)
        let file = directory.appendingPathComponent("admin.token")
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let token = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("lsq_") && token.count == 47)
        #expect(running.service.accessSummary.contains(file.path))
        #expect(try await running.client(token: token).get("/v1/tokens").status == 200)
        running = try await ServiceHarness.restart(running)
        #expect(try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == token, "not replaced")
        let items = try await running.client(token: token).get("/v1/tokens").jsonObject()["items"] as? [[String: Any]] ?? []
        #expect(items.count == 1, "a second start makes no second admin token")
        await running.service.stop()
    }

    @Test("a seed that was revoked is refused at start-up, not revived")
    func revokedSeedRefused() async throws {
        let directory = AdapterFixture.temporaryDirectory("revoked-seed")
        defer { try? FileManager.default.removeItem(at: directory) }
        let running = try await ServiceHarness.start(ServiceHarness.configuration(directory: directory))
        let items = try await running.get("/v1/tokens").jsonObject()["items"] as? [[String: Any]] ?? []
        let id = try #require(items.first?["id"] as? String)
        #expect(try await running.client.request("DELETE", "/v1/tokens/\(id)").status == 204)
        await running.service.stop()
        await #expect(throws: (any Error).self) { _ = try await ServiceHarness.start(running.configuration) }
    }

    @Test("metrics are open by default and need read with metrics-auth; auth off allows everything and says so")
    func metricsAuthAndAuthOff() async throws {
        try await ServiceHarness.with { s in
            #expect(try await s.anonymous.get("/metrics").status == 200)
            #expect(try await s.anonymous.get("/healthz").status == 200)
            #expect(try await s.anonymous.get("/openapi.json").status == 200)
            let ready = try await s.anonymous.get("/readyz")
            #expect(ready.status == 200 && !ready.text.contains("warning"))
        }
        try await ServiceHarness.with({ $0.access.metricsNeedToken = true }) { s in
            try expectProblem(try await s.anonymous.get("/metrics"), status: 401, detailContains: ["scope read"], "metrics-auth")
            let read = s.client(token: try await s.createToken(name: "scraper", scope: "read").token)
            #expect(try await read.get("/metrics").status == 200)
        }
        let files = try ServiceFixtures.peft(seed: 912)
        try await ServiceHarness.with({ $0.access.enabled = false }) { s in
            let (type, body) = UploadBody.peftMultipart(config: files.config, weights: files.weights)
            let uploaded = try await s.anonymous.request("POST", "/v1/adapters?name=open", headers: [("Content-Type", type)], body: body)
            #expect(uploaded.status == 201)
            #expect(try await s.anonymous.request("DELETE", "/v1/adapters/open").status == 200)
            #expect(try await s.anonymous.get("/readyz").text.contains("authentication is off"))
            #expect(s.service.accessSummary.contains("OFF"))
        }
    }

    @Test("20 failed authentications from one address are answered 401, the 21st 429; known-good tokens still pass")
    func failureBudget() async throws {
        // A slow refill (one try per 100 s), so the requests' own time cannot earn a try back.
        try await ServiceHarness.with({ $0.authLimits.failureRefillPerSecond = 0.01 }) { s in
            let good = try await s.createToken(name: "host", scope: "read").token
            let address = "127.0.0.\(Int.random(in: 20...200))"
            let goodClient = s.client(token: good).from(address)
            #expect(try await goodClient.get("/v1/adapters").status == 200)
            let guesser = s.client(token: TestTokens.make()).from(address)
            for attempt in 1...20 {
                #expect(try await guesser.get("/v1/adapters").status == 401, "attempt \(attempt)")
            }
            let limited = try await guesser.get("/v1/adapters")
            try expectProblem(limited, status: 429, detailContains: ["try again"], "the 21st")
            let retry = Int(limited.header("Retry-After") ?? "") ?? 0
            #expect((1...100).contains(retry), "Retry-After \(retry)")
            // Even a malformed header is refused before any lookup.
            #expect(try await guesser.get("/v1/adapters", headers: [("Authorization", "Basic eDp5")]).status == 429)
            #expect(try await goodClient.get("/v1/adapters").status == 200, "a token that worked keeps working")
            #expect(try await s.client(token: good).from("127.0.0.9").get("/v1/adapters").status == 200, "other addresses are unaffected")
            #expect(try await s.anonymous.from(address).get("/v1/adapters").status == 401, "no token is not a failure")
            let m = try await s.metrics()
            #expect(m.value("lora_squeeze_auth_failures_total", ["reason": "unknown"]) == 20)
            #expect(m.value("lora_squeeze_auth_failures_total", ["reason": "rate_limited"]) == 2)
            #expect(m.value("lora_squeeze_auth_failures_total", ["reason": "missing"]) >= 1)
        }
    }

    @Test("Authorization forms: scheme in any case, extra spaces; two fields or another scheme are refused")
    func headerForms() async throws {
        try await ServiceHarness.with { s in
            let token = ServiceHarness.adminToken
            for value in ["bearer \(token)", "BEARER \(token)", "Bearer   \(token)  "] {
                #expect(try await s.anonymous.get("/v1/adapters", headers: [("Authorization", value)]).status == 200, "\(value.prefix(10))")
            }
            let two = try await s.anonymous.get("/v1/adapters", headers: [("Authorization", "Bearer \(token)"), ("Authorization", "Bearer \(token)")])
            #expect(two.status == 401)
            for value in ["Token \(token)", token, "Bearer", "Bearer \(token)x", "Bearer \(token.dropLast())"] {
                #expect(try await s.anonymous.get("/v1/adapters", headers: [("Authorization", value)]).status == 401, "\(value.prefix(12))")
            }
        }
    }

    @Test("token requests at their bounds and one past")
    func tokenBounds() async throws {
        try await ServiceHarness.with { s in
            func create(_ json: String) async throws -> HTTPTestResponse { try await s.client.send("POST", "/v1/tokens", json: json) }
            let name64 = String(repeating: "n", count: 64), ns128 = String(repeating: "s", count: 128)
            #expect(try await create("{\"name\": \"\(name64)\", \"scope\": \"read\"}").status == 201)
            try expectProblem(try await create("{\"name\": \"\(name64)n\", \"scope\": \"read\"}"), status: 400, detailContains: ["65"], "name 65")
            #expect(try await create("{\"name\": \"a\", \"scope\": \"read\", \"namespace\": \"\(ns128)\"}").status == 201)
            try expectProblem(try await create("{\"name\": \"a\", \"scope\": \"read\", \"namespace\": \"\(ns128)s\"}"), status: 400, detailContains: ["129"], "namespace 129")
            #expect(try await create(#"{"name": "a", "scope": "read", "expiresIn": "3650d"}"#).status == 201)
            for bad in ["3651d", "0s", "99999999999d", "1w", "d", "-1d", "1.5h"] {
                try expectProblem(try await create("{\"name\": \"a\", \"scope\": \"read\", \"expiresIn\": \"\(bad)\"}"), status: 400,
                                  detailContains: ["expiresIn"], "expiresIn \(bad)")
            }
            for bad in [#"{"name": "a", "scope": "owner"}"#, #"{"name": "a"}"#, #"{"name": null, "scope": "read"}"#,
                        #"{"name": "a b", "scope": "read"}"#, #"{"name": "a", "scope": "read", "namespace": "a/b"}"#, "[]", "{"] {
                #expect(try await create(bad).status == 400, "\(bad)")
            }
            let big = "{\"name\": \"a\", \"scope\": \"read\", \"pad\": \"\(String(repeating: "x", count: 4096))\"}"
            #expect(try await create(big).status == 413)
            let created = try await create(#"{"name": "shown-once", "scope": "write"}"#)
            #expect(created.header("Cache-Control") == "no-store")
            let object = try created.jsonObject()
            #expect(created.header("Location") == "/v1/tokens/\(object["id"] as? String ?? "")")
            for key in ["id", "token", "name", "scope", "namespace", "createdAt", "expiresAt"] {
                #expect(object.keys.contains(key), "\(key) missing from \(object.keys.sorted())")
            }
        }
    }

    @Test("writes and admin actions are audited with the token, the target and the status; the log pages")
    func audit() async throws {
        let files = try ServiceFixtures.peft(seed: 913)
        try await ServiceHarness.with { s in
            let writer = try await s.createToken(name: "ci-bot", scope: "write")
            let client = s.client(token: writer.token)
            let (type, body) = UploadBody.peftMultipart(config: files.config, weights: files.weights)
            let uploaded = try await client.request("POST", "/v1/adapters?name=audited", headers: [("Content-Type", type)], body: body)
            let digest = try uploaded.decode(AdapterJSON.self).digest
            #expect(try await client.request("DELETE", "/v1/adapters/\(digest)").status == 403)
            #expect(try await client.get("/v1/adapters/audited").status == 200)
            #expect(try await s.client.request("DELETE", "/v1/adapters/audited").status == 200)

            let page = try await s.get("/v1/audit?limit=2").jsonObject()
            let items = page["items"] as? [[String: Any]] ?? []
            try #require(items.count == 2)
            #expect(items[0]["action"] as? String == "DELETE /v1/adapters/{ref}")
            #expect(items[0]["status"] as? Int == 200 && items[0]["tokenName"] as? String == "admin-seed")
            #expect((items[0]["target"] as? String)?.contains("ref=audited") == true)
            #expect(items[1]["status"] as? Int == 403 && items[1]["tokenId"] as? String == writer.id)
            let before = try #require(page["nextBefore"] as? Int)
            let older = try await s.get("/v1/audit?limit=1000&before=\(before)").jsonObject()["items"] as? [[String: Any]] ?? []
            let upload = older.first { $0["action"] as? String == "POST /v1/adapters" }
            #expect(upload?["tokenName"] as? String == "ci-bot" && upload?["status"] as? Int == 201)
            #expect((upload?["target"] as? String)?.contains("name=audited") == true)
            #expect(!older.contains { ($0["action"] as? String)?.hasPrefix("GET") == true }, "reads are not audited")
            #expect(try await s.get("/v1/audit?limit=1001").status == 400)
            #expect(try await s.get("/v1/audit?limit=0").status == 400)
            #expect(try await s.get("/v1/audit?before=0").status == 400)
        }
    }

    @Test("a token put where it does not belong is redacted from problem details")
    func redaction() async throws {
        try await ServiceHarness.with { s in
            let token = ServiceHarness.adminToken
            for path in ["/v1/adapters/\(token)", "/v1/jobs/\(token)", "/v1/nowhere/\(token)", "/v1/adapters/x/squeezed/\(token)/adapter_config.json"] {
                let response = try await s.get(path)
                #expect(response.status >= 400, "\(path)")
                #expect(!response.text.contains(token.dropFirst(4).prefix(20)), "\(path): \(response.text)")
            }
        }
    }
}
