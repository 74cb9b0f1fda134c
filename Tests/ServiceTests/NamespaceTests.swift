import Foundation
import Testing
import TestSupport

/// Tokens limited to a namespace see and change only adapters named there; everything else looks
/// missing to them, byte for byte as a missing adapter does.
@Suite("Namespaces")
struct NamespaceTests {
    /// Adapters: `team-a/chat` (only team-a's), `team-b/chat` (only team-b's), one shared by
    /// `team-a/shared` and `team-b/shared`, and `team-ab/x` (a namespace that starts like team-a's).
    struct World {
        let a: String, b: String, shared: String, ab: String
    }

    static func world(_ s: RunningService) async throws -> World {
        let a = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 921), name: "team-a/chat").digest
        let b = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 922), name: "team-b/chat").digest
        let shared = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 923), name: "team-a/shared").digest
        #expect(try await s.client.send("PUT", "/v1/names/team-b/shared", json: "{\"adapter\": \"\(shared)\"}").status == 201)
        let ab = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 924), name: "team-ab/x").digest
        return World(a: a, b: b, shared: shared, ab: ab)
    }

    @Test("a team's read token lists, describes and downloads only its adapters, under its names only")
    func visibility() async throws {
        try await ServiceHarness.with { s in
            let w = try await Self.world(s)
            let read = s.client(token: try await s.createToken(name: "a-read", scope: "read", namespace: "team-a").token)
            let page = try await read.get("/v1/adapters").decode(PageJSON.self)
            #expect(Set(page.items.map(\.digest)) == [w.a, w.shared] && page.total == 2, "team-ab is not team-a")
            let shared = try #require(page.items.first { $0.digest == w.shared })
            #expect(shared.names == ["team-a/shared"], "another team's name is not shown")
            #expect(try await read.get("/v1/adapters?name=team-a/ch").decode(PageJSON.self).items.map(\.digest) == [w.a])
            #expect(try await read.get("/v1/adapters/team-a/chat").status == 200)
            #expect(try await read.get("/v1/adapters/team-a%2Fchat").status == 200, "one slash percent-encoded: the same name")
            #expect(try await read.get("/v1/adapters/\(w.shared)").decode(AdapterJSON.self).names == ["team-a/shared"])
            let missing = try await read.get("/v1/adapters/team-a/nothing")
            for hidden in ["/v1/adapters/team-b/chat", "/v1/adapters/\(w.b)", "/v1/adapters/team-ab/x"] {
                let response = try await read.get(hidden)
                try expectProblem(response, status: 404, hidden)
                let detail = try response.decode(ProblemJSON.self).detail
                #expect(detail == (try missing.decode(ProblemJSON.self).detail).replacingOccurrences(of: "team-a/nothing", with: String(hidden.dropFirst(13))),
                        "\(hidden): \(detail)")
            }
            for path in ["files/adapter_model.safetensors", "squeezed/2/adapter_model.safetensors", "squeezed/2.tar", "spectrum", "delta.safetensors"] {
                #expect(try await read.get("/v1/adapters/team-a/chat/\(path)").status == 200, "\(path)")
                #expect(try await read.get("/v1/adapters/team-b/chat/\(path)").status == 404, "\(path)")
            }
            // Blobs: its adapters' files and their squeezes' files; not another team's.
            let own = try await read.get("/v1/adapters/team-a/chat/files/adapter_model.safetensors")
            let ownBlob = String((own.header("Content-Location") ?? "").split(separator: "/").last ?? "")
            #expect(try await read.get("/v1/blobs/\(ownBlob)").status == 200)
            let squeezed = try await read.get("/v1/adapters/team-a/chat/squeezed/2/adapter_model.safetensors")
            let squeezedBlob = String((squeezed.header("Content-Location") ?? "").split(separator: "/").last ?? "")
            #expect(try await read.get("/v1/blobs/\(squeezedBlob)").status == 200)
            let theirs = try await s.get("/v1/adapters/team-b/chat/files/adapter_model.safetensors")
            let theirBlob = String((theirs.header("Content-Location") ?? "").split(separator: "/").last ?? "")
            try expectProblem(try await read.get("/v1/blobs/\(theirBlob)"), status: 404, "another team's blob")
            #expect(try await s.get("/v1/blobs/\(theirBlob)").status == 200, "an unlimited token sees every blob")
        }
    }

    @Test("a team's write token names only in its namespace, and only adapters it can see")
    func writes() async throws {
        try await ServiceHarness.with { s in
            let w = try await Self.world(s)
            let write = s.client(token: try await s.createToken(name: "a-write", scope: "write", namespace: "team-a").token)
            let files = try ServiceFixtures.peft(seed: 925)
            let (type, body) = UploadBody.peftMultipart(config: files.config, weights: files.weights)
            for query in ["", "?name=mine", "?name=team-b/mine"] {
                let refused = try await write.request("POST", "/v1/adapters\(query)", headers: [("Content-Type", type)], body: body)
                let problem = try expectProblem(refused, status: 403, detailContains: ["team-a"], "upload \(query)")
                #expect(problem.type == "/problems/outside-namespace")
            }
            #expect(try await write.request("POST", "/v1/adapters?name=team-a/mine", headers: [("Content-Type", type)], body: body).status == 201)
            try expectProblem(try await write.send("PUT", "/v1/names/team-b/stolen", json: "{\"adapter\": \"\(w.a)\"}"), status: 403, "tag outside")
            try expectProblem(try await write.send("PUT", "/v1/names/team-a/grab", json: "{\"adapter\": \"\(w.b)\"}"), status: 404, "target hidden")
            try expectProblem(try await write.send("PUT", "/v1/names/team-a/grab", json: "{\"adapter\": \"team-b/chat\"}"), status: 404, "target hidden")
            #expect(try await write.send("PUT", "/v1/names/team-a/alias", json: "{\"adapter\": \"team-a/chat\"}").status == 201)
            try expectProblem(try await write.request("DELETE", "/v1/names/team-b/chat"), status: 403, "untag outside")
            #expect(try await write.request("DELETE", "/v1/names/team-a/alias").status == 204)
            #expect(try await s.get("/v1/adapters/team-b/chat").decode(AdapterJSON.self).digest == w.b, "team-b's name did not move")
            #expect(try await write.request("PUT", "/v1/adapters/team-a/chat/squeezed/2/pin").status == 200)
            #expect(try await write.request("PUT", "/v1/adapters/team-b/chat/squeezed/2/pin").status == 404)
        }
    }

    @Test("normalize jobs cover only the team's adapters and are seen only by the team")
    func jobs() async throws {
        try await ServiceHarness.with { s in
            let w = try await Self.world(s)
            let write = s.client(token: try await s.createToken(name: "a-write", scope: "write", namespace: "team-a").token)
            let readB = s.client(token: try await s.createToken(name: "b-read", scope: "read", namespace: "team-b").token)
            let created = try await write.send("POST", "/v1/normalize", json: #"{"all": true, "rank": 2}"#)
            try #require(created.status == 202, "\(created.text)")
            let location = try #require(created.header("Location"))
            let job = try created.decode(JobJSON.self)
            #expect(Set(job.adapters.map(\.digest)) == [w.a, w.shared])
            #expect(try await write.get(location).status == 200)
            try expectProblem(try await readB.get(location), status: 404, "another team's job")
            #expect(try await s.get(location).status == 200, "an unlimited token sees every job")
            try expectProblem(try await write.send("POST", "/v1/normalize", json: "{\"adapters\": [\"\(w.b)\"], \"rank\": 2}"), status: 404, "hidden ref")
            let prefixed = try await write.send("POST", "/v1/normalize", json: #"{"prefix": "team-", "rank": 2}"#)
            #expect(Set(try prefixed.decode(JobJSON.self).adapters.map(\.digest)) == [w.a, w.shared])
            _ = try await s.waitForJob(location)
        }
    }

    @Test("a namespace admin deletes only adapters wholly its own, and manages only its tokens and audit entries")
    func namespaceAdmin() async throws {
        try await ServiceHarness.with { s in
            let w = try await Self.world(s)
            let admin = s.client(token: try await s.createToken(name: "a-admin", scope: "admin", namespace: "team-a").token)
            let problem = try expectProblem(try await admin.request("DELETE", "/v1/adapters/team-a/shared"), status: 403,
                                            detailContains: ["outside"], "shared adapter")
            #expect(problem.type == "/problems/outside-namespace")
            #expect(try await admin.request("DELETE", "/v1/adapters/team-b/chat").status == 404)
            #expect(try await admin.request("DELETE", "/v1/adapters/team-a/chat").status == 200)
            #expect(try await s.get("/v1/adapters/\(w.a)").status == 404)

            let made = try await s.createToken(name: "a-made", scope: "read", as: admin)
            let b = try await s.createToken(name: "b-read", scope: "read", namespace: "team-b")
            try expectProblem(try await admin.send("POST", "/v1/tokens", json: #"{"name": "x", "scope": "read", "namespace": "team-b"}"#),
                              status: 403, "token for another namespace")
            let items = try await admin.get("/v1/tokens").jsonObject()["items"] as? [[String: Any]] ?? []
            #expect(Set(items.compactMap { $0["namespace"] as? String }) == ["team-a"] && items.contains { $0["id"] as? String == made.id })
            #expect(try await admin.request("DELETE", "/v1/tokens/\(b.id)").status == 404)
            #expect(try await s.client(token: b.token).get("/v1/adapters").status == 200, "team-b's token still works")
            let audit = try await admin.get("/v1/audit?limit=1000").jsonObject()["items"] as? [[String: Any]] ?? []
            #expect(!audit.isEmpty && audit.allSatisfy { $0["namespace"] as? String == "team-a" })
        }
    }

    @Test("a bare name that is also a namespace: each path has one owner")
    func ambiguousPaths() async throws {
        try await ServiceHarness.with { s in
            let bare = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 926), name: "team-a").digest
            let inside = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 927), name: "team-a/chat").digest
            #expect(try await s.get("/v1/adapters/team-a").decode(AdapterJSON.self).digest == bare)
            #expect(try await s.get("/v1/adapters/team-a/chat").decode(AdapterJSON.self).digest == inside)
            #expect(try await s.get("/v1/adapters/team-a/spectrum").decode(SpectrumJSON.self).digest == bare, "a keyword: the bare name's")
            #expect(try await s.get("/v1/adapters/team-a/chat/spectrum").decode(SpectrumJSON.self).digest == inside)
            let bareFile = try await s.get("/v1/adapters/team-a/files/adapter_model.safetensors")
            let insideFile = try await s.get("/v1/adapters/team-a/chat/files/adapter_model.safetensors")
            #expect(bareFile.status == 200 && insideFile.status == 200 && bareFile.body != insideFile.body)
            #expect(try await s.get("/v1/adapters/team-a/squeezed/2.tar").status == 200)
            #expect(try await s.get("/v1/adapters/team-a/chat/squeezed/2.tar").status == 200)
            try expectProblem(try await s.client.send("PUT", "/v1/names/team-a/spectrum", json: "{\"adapter\": \"\(bare)\"}"),
                              status: 400, detailContains: ["spectrum"], "a keyword cannot be a name within a namespace")
        }
    }
}
