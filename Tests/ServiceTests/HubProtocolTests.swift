import AdapterFormats
import Foundation
import HTTPServer
@testable import Service
import Store
import Testing
import TestSupport

/// The Hugging Face Hub protocol under `/hub/{view}`, as the service answers it. The real clients
/// (huggingface_hub 0.19.4, 1.31.0 and 2.4.0) are run against it by Tests/Hub; these tests hold the
/// answers themselves: the fields, headers, commit ids and error codes those clients read.
@Suite("Hub protocol")
struct HubProtocolTests {
    /// The commit id computed here independently of `HubRepository`: the first 40 hex characters of
    /// the SHA-256 of "lora-squeeze hub repository v1\n" and one "path sha256\n" line per file.
    static func commit(_ files: [(String, [UInt8])]) throws -> String {
        var manifest = "lora-squeeze hub repository v1\n"
        for (path, bytes) in files { manifest += "\(path) \(try SHA256.hash(bytes).hex)\n" }
        return String(try SHA256.hash(Array(manifest.utf8)).hex.prefix(40))
    }

    // MARK: Views

    @Test("views: original, r{R} and r{R}-{dtype} for R from 1 to the max rank, one spelling each")
    func views() throws {
        let max = 512
        #expect(try HubView(parsing: "original", maxRank: max) == .original)
        #expect(try HubView(parsing: "r1", maxRank: max) == .squeezed(rank: 1, dtype: nil))
        #expect(try HubView(parsing: "r512", maxRank: max) == .squeezed(rank: 512, dtype: nil), "the bound")
        #expect(try HubView(parsing: "r16-bf16", maxRank: max) == .squeezed(rank: 16, dtype: .bf16))
        #expect(try HubView(parsing: "r8-f16", maxRank: max) == .squeezed(rank: 8, dtype: .f16))
        #expect(try HubView(parsing: "r8-f32", maxRank: max) == .squeezed(rank: 8, dtype: .f32))
        for text in ["original", "r1", "r512", "r16-bf16", "r8-f16", "r8-f32"] {
            #expect(try HubView(parsing: text, maxRank: max).segment == text)
        }
        let refused = ["r513", "r0", "r016", "r", "r-bf16", "R16", "r16-", "r16-f64", "r16-BF16", "r16-bf16x", "r+16",
                       "r 16", "rank16", "Original", "", "r99999999999999999999", "r1-bf16-bf16", "r16\u{0}"]
        for text in refused {
            #expect(throws: HTTPError.self, "\(text.debugDescription)") { try HubView(parsing: text, maxRank: max) }
        }
        // The length bound: 16 characters are read, 17 refused unread.
        #expect(HubView.maxLength == 16)
        #expect(throws: HTTPError.self) { try HubView(parsing: "r" + String(repeating: "0", count: 10) + "1-bf16", maxRank: max) }
        let error = try #require(throws: HTTPError.self) { try HubView(parsing: "r513", maxRank: max) }
        #expect(error.status == .notFound && error.detail.contains("from 1 to 512"), "\(error.detail)")
    }

    // MARK: Git LFS pointers

    @Test("LFS pointers and their Git blob ids are git's own (values from `git hash-object`)")
    func lfsPointer() throws {
        #expect(try GitLFSPointer.gitBlobID(of: Array("hello\n".utf8)) == "ce013625030ba8dba906f756967f9e9ca394464a")
        #expect(try GitLFSPointer.gitBlobID(of: []) == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        let pointer = GitLFSPointer(sha256: try #require(SHA256Digest("00430440d1fb896ac87b0f504be698c233302dd5895e608cd48fee82a67c66cd")), size: 362)
        #expect(pointer.text == "version https://git-lfs.github.com/spec/v1\noid sha256:00430440d1fb896ac87b0f504be698c233302dd5895e608cd48fee82a67c66cd\nsize 362\n")
        #expect(pointer.pointerSize == 128)
        #expect(try pointer.gitBlobID() == "6ccb914985f9c00a598f5e1ce60f0e43907806f3")
    }

    // MARK: Errors

    @Test("errors carry X-Error-Code as the client maps them, and X-Error-Message as safe ASCII of at most 512 bytes")
    func errorHeaders() throws {
        let missing = HubErrors.refine(HTTPError(.notFound, type: "not-found", detail: "no adapter"))
        #expect(missing.headers["X-Error-Code"] == "RepoNotFound" && missing.headers["X-Error-Message"] == "no adapter")
        let revision = HubErrors.refine(HubErrors.notFound(HubErrors.revisionNotFound, "no revision"))
        #expect(revision.headers["X-Error-Code"] == "RevisionNotFound", "a code already set is kept")
        let noToken = HubErrors.refine(Authenticator.missing(.read))
        #expect(noToken.status == .unauthorized && noToken.headers["X-Error-Code"] == "RepoNotFound")
        let badToken = HubErrors.refine(Authenticator.invalidToken)
        #expect(badToken.status == .unauthorized && badToken.headers["X-Error-Code"] == nil)
        let scope = HubErrors.refine(Authenticator.insufficientScope(.read, has: .read))
        #expect(scope.status == .forbidden && scope.headers["X-Error-Code"] == nil)
        let other = HubErrors.refine(HTTPError(.badRequest, type: "x", detail: "bad"))
        #expect(other.headers["X-Error-Code"] == nil && other.headers["X-Error-Message"] == "bad")
        // Bound and one past; control and non-ASCII bytes replaced.
        #expect(HubErrors.headerSafe(String(repeating: "a", count: 512)).count == 512)
        #expect(HubErrors.headerSafe(String(repeating: "a", count: 513)).count == 512)
        #expect(HubErrors.headerSafe("é\r\nX-Evil: 1\u{7F}") == "????X-Evil: 1?", "each byte outside printable ASCII")
    }

    // MARK: Routes

    @Test("model info, tree and resolve of /hub/original: the uploaded files, their SHA-256, a content-derived commit")
    func original() async throws {
        let files = try ServiceFixtures.peft(seed: 1101, rank: 8)
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files, name: "team-a/chat-v2").digest
            let commit = try Self.commit([(PEFTFiles.config, files.config), (PEFTFiles.weights, files.weights)])
            let info = try await s.get("/hub/original/api/models/team-a/chat-v2")
            try #require(info.status == 200, "\(info.text)")
            let object = try info.jsonObject()
            #expect(object["id"] as? String == "team-a/chat-v2" && object["sha"] as? String == commit)
            #expect(object["private"] as? Bool == true, "authentication is on")
            #expect((object["lastModified"] as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil,
                    "\(String(describing: object["lastModified"]))")
            let siblings = try #require(object["siblings"] as? [[String: Any]])
            #expect(siblings.compactMap { $0["rfilename"] as? String } == [PEFTFiles.config, PEFTFiles.weights])
            for (sibling, bytes) in zip(siblings, [files.config, files.weights]) {
                let lfs = try #require(sibling["lfs"] as? [String: Any])
                #expect(try lfs["sha256"] as? String == (SHA256.hash(bytes).hex) && lfs["size"] as? Int == bytes.count)
                #expect(sibling["size"] as? Int == bytes.count)
            }
            // The same answer by revision: main, the commit, the adapter's digest; and the percent-encoded id.
            for path in ["revision/main", "revision/\(commit)", "revision/\(digest)"] {
                let again = try await s.get("/hub/original/api/models/team-a/chat-v2/\(path)")
                #expect(try again.status == 200 && (again.jsonObject())["sha"] as? String == commit, "\(path)")
            }
            #expect(try await s.get("/hub/original/api/models/team-a%2Fchat-v2").status == 200)
            #expect(try (await s.get("/hub/original/api/models/\(digest)").jsonObject())["sha"] as? String == commit, "by digest")

            let tree = try await s.get("/hub/original/api/models/team-a/chat-v2/tree/main?recursive=true&expand=false")
            try #require(tree.status == 200, "\(tree.text)")
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(tree.body)) as? [[String: Any]])
            #expect(entries.count == 2 && tree.header("Link") == nil, "one page")
            for (entry, (path, bytes)) in zip(entries, [(PEFTFiles.config, files.config), (PEFTFiles.weights, files.weights)]) {
                let lfs = try #require(entry["lfs"] as? [String: Any])
                #expect(entry["type"] as? String == "file" && entry["path"] as? String == path && entry["size"] as? Int == bytes.count)
                #expect(try lfs["oid"] as? String == (SHA256.hash(bytes).hex) && lfs["size"] as? Int == bytes.count)
                let pointer = GitLFSPointer(sha256: try SHA256.hash(bytes), size: Int64(bytes.count))
                #expect(try lfs["pointerSize"] as? Int == pointer.pointerSize && entry["oid"] as? String == (pointer.gitBlobID()))
            }

            for (path, bytes) in [(PEFTFiles.config, files.config), (PEFTFiles.weights, files.weights)] {
                let url = "/hub/original/team-a/chat-v2/resolve/main/\(path)"
                let head = try await s.client.request("HEAD", url)
                let etag = "\"\(try SHA256.hash(bytes).hex)\""
                #expect(head.status == 200 && head.body.isEmpty)
                #expect(head.header("X-Repo-Commit") == commit && head.header("ETag") == etag && head.header("X-Linked-Etag") == etag)
                #expect(head.header("X-Linked-Size") == "\(bytes.count)" && head.header("Content-Length") == "\(bytes.count)")
                #expect(head.header("Accept-Ranges") == "bytes")
                let body = try await s.get(url)
                #expect(body.status == 200 && body.body == bytes, "\(path)")
                #expect(body.header("Cache-Control") == "no-cache", "main can move")
                let pinned = try await s.get("/hub/original/team-a/chat-v2/resolve/\(commit)/\(path)")
                #expect(pinned.status == 200 && pinned.header("Cache-Control") == AdapterService.immutable, "a commit's file never changes")
                let range = try await s.get(url, headers: [("Range", "bytes=10-")])
                #expect(range.status == 206 && range.body == Array(bytes.dropFirst(10)))
            }
        }
    }

    @Test("/hub/r{R} serves the API's squeeze (computed by HEAD or GET on first use), with its own commit")
    func squeezed() async throws {
        let files = try ServiceFixtures.peft(seed: 1102, rank: 8)
        try await ServiceHarness.with { s in
            _ = try await s.uploadPEFT(files, name: "chat")
            // HEAD first: the client needs the ETag before the body, so a hub HEAD computes.
            let head = try await s.client.request("HEAD", "/hub/r4/chat/resolve/main/adapter_model.safetensors")
            #expect(head.status == 200 && head.header("ETag") != nil && head.header("X-Repo-Commit") != nil)
            let config = try await s.get("/v1/adapters/chat/squeezed/4/adapter_config.json")
            let weights = try await s.get("/v1/adapters/chat/squeezed/4/adapter_model.safetensors")
            let commit = try Self.commit([(PEFTFiles.config, config.body), (PEFTFiles.weights, weights.body)])
            #expect(try head.header("X-Repo-Commit") == commit && head.header("ETag") == "\"\(SHA256.hash(weights.body).hex)\"")
            let info = try await s.get("/hub/r4/api/models/chat").jsonObject()
            #expect(info["sha"] as? String == commit)
            #expect(try commit != (Self.commit([(PEFTFiles.config, files.config), (PEFTFiles.weights, files.weights)])))
            for (path, expected) in [(PEFTFiles.config, config.body), (PEFTFiles.weights, weights.body)] {
                let got = try await s.get("/hub/r4/chat/resolve/\(commit)/\(path)")
                #expect(got.status == 200 && got.body == expected, "\(path)")
            }
            // A dtype view is another squeeze, with another commit.
            let bf16 = try await s.get("/hub/r4-bf16/api/models/chat").jsonObject()
            let bf16Weights = try await s.get("/v1/adapters/chat/squeezed/4/adapter_model.safetensors?dtype=bf16")
            let bf16Config = try await s.get("/v1/adapters/chat/squeezed/4/adapter_config.json?dtype=bf16")
            #expect(try bf16["sha"] as? String == (Self.commit([(PEFTFiles.config, bf16Config.body), (PEFTFiles.weights, bf16Weights.body)])))
            // The view's rank is bounded like the API's.
            let over = try await s.get("/hub/r100000/api/models/chat")
            try expectProblem(over, status: 404, detailContains: ["rank must be from 1 to"])
            #expect(over.header("X-Error-Code") == "RepoNotFound")
        }
    }

    @Test("a kohya adapter is a one-file repository under both views")
    func kohya() async throws {
        let bytes = try ServiceFixtures.kohya(seed: 1103)
        try await ServiceHarness.with { s in
            _ = try await s.uploadKohya(bytes, name: "style")
            for view in ["original", "r2"] {
                let info = try await s.get("/hub/\(view)/api/models/style").jsonObject()
                let siblings = try #require(info["siblings"] as? [[String: Any]])
                #expect(siblings.compactMap { $0["rfilename"] as? String } == [PEFTFiles.weights], "\(view)")
                let config = try await s.client.request("HEAD", "/hub/\(view)/style/resolve/main/adapter_config.json")
                #expect(config.status == 404 && config.header("X-Error-Code") == "EntryNotFound", "\(view)")
            }
            let original = try await s.get("/hub/original/style/resolve/main/adapter_model.safetensors")
            #expect(original.body == bytes)
        }
    }

    @Test("errors name the missing thing as the client's exceptions do: repository, revision, file; tokens as on the Hub")
    func errors() async throws {
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 1104), name: "team-a/chat").digest
            let other = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 1105), name: "team-b/chat").digest
            func code(_ response: HTTPTestResponse) -> String? { response.header("X-Error-Code") }
            let cases: [(String, Int, String?)] = [
                ("/hub/original/api/models/team-a/nothing", 404, "RepoNotFound"),
                ("/hub/original/api/models/nothing", 404, "RepoNotFound"),
                ("/hub/original/api/models/team-a/chat/revision/v1.0", 404, "RevisionNotFound"),
                ("/hub/original/api/models/team-a/chat/revision/\(other)", 404, "RevisionNotFound"),
                ("/hub/original/api/models/team-a/chat/revision/refs%2Fpr%2F1", 404, "RevisionNotFound"),
                ("/hub/original/api/models/team-a/chat/tree/v1.0", 404, "RevisionNotFound"),
                ("/hub/original/team-a/chat/resolve/main/README.md", 404, "EntryNotFound"),
                ("/hub/original/team-a/chat/resolve/main/%C3%A9%0D%0Ax", 404, "EntryNotFound"),
                ("/hub/original/team-a/chat/resolve/0000000000000000000000000000000000000000/adapter_config.json", 404, "RevisionNotFound"),
                ("/hub/r0/api/models/team-a/chat", 404, "RepoNotFound"),
                ("/hub/latest/team-a/chat/resolve/main/adapter_config.json", 404, "RepoNotFound"),
            ]
            for (path, status, expected) in cases {
                let response = try await s.get(path)
                try expectProblem(response, status: status, path)
                #expect(code(response) == expected, "\(path): \(String(describing: code(response)))")
                let message = try #require(response.header("X-Error-Message"), "\(path)")
                #expect(message.utf8.allSatisfy { (0x20...0x7E).contains($0) } && message.utf8.count <= 512, "\(path): \(message)")
            }
            // Tokens: none (the Hub's private-repository answer), a wrong one, another namespace's.
            let none = try await s.anonymous.get("/hub/original/api/models/team-a/chat")
            #expect(none.status == 401 && code(none) == "RepoNotFound" && none.header("WWW-Authenticate") != nil)
            let wrong = try await s.client(token: "lsq_" + String(repeating: "x", count: 43)).get("/hub/original/api/models/team-a/chat")
            #expect(wrong.status == 401 && code(wrong) == nil)
            let teamB = s.client(token: try await s.createToken(name: "b", scope: "read", namespace: "team-b").token)
            for path in ["/hub/original/api/models/team-a/chat", "/hub/original/api/models/\(digest)",
                         "/hub/original/team-a/chat/resolve/main/adapter_config.json"] {
                let hidden = try await teamB.get(path)
                #expect(hidden.status == 404 && code(hidden) == "RepoNotFound", "\(path)")
            }
            #expect(try await teamB.get("/hub/original/api/models/team-b/chat").status == 200)
            // Read-only: no other method.
            #expect(try await s.client.request("DELETE", "/hub/original/api/models/team-a/chat").status == 405)
            #expect(try await s.client.request("POST", "/hub/original/team-a/chat/resolve/main/adapter_config.json").status == 405)
        }
    }

    @Test("a name moved to another adapter moves its repository: main follows, the old commit is gone")
    func movedName() async throws {
        try await ServiceHarness.with { s in
            _ = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 1106), name: "fleet")
            let first = try await s.get("/hub/r2/api/models/fleet").jsonObject()["sha"] as? String
            let second = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 1107)).digest
            #expect(try await s.client.send("PUT", "/v1/names/fleet", json: "{\"adapter\": \"\(second)\"}").status == 200)
            let moved = try await s.get("/hub/r2/api/models/fleet").jsonObject()["sha"] as? String
            #expect(first != nil && moved != nil && first != moved)
            let old = try await s.get("/hub/r2/fleet/resolve/\(first ?? "")/adapter_config.json")
            #expect(old.status == 404 && old.header("X-Error-Code") == "RevisionNotFound")
        }
    }

    @Test("a damaged adapter file found by a hub download is a 500 blob-damaged, as on the API, and is quarantined")
    func damagedOriginal() async throws {
        let files = try ServiceFixtures.peft(seed: 1108)
        let directory = AdapterFixture.temporaryDirectory("service-hub-damage")
        defer { try? FileManager.default.removeItem(at: directory) }
        var s = try await ServiceHarness.start(ServiceHarness.configuration(directory: directory))
        do {
            let digest = try await s.uploadPEFT(files, name: "fragile").digest
            let weights = try SHA256.hash(files.weights).hex
            await s.service.stop()
            try FaultTests.damage(s, weights)
            s = try await ServiceHarness.start(s.configuration)   // verified on the first read after a start
            let download = try await s.get("/hub/original/fragile/resolve/main/adapter_model.safetensors")
            #expect(try expectProblem(download, status: 500, detailContains: [digest, weights]).type == "/problems/blob-damaged")
            #expect(download.header("X-Error-Message")?.contains(weights) == true)
            let info = try await s.get("/hub/original/api/models/fragile")
            #expect(try expectProblem(info, status: 500, detailContains: [digest]).type == "/problems/blob-damaged",
                    "the repository is not described while its file is damaged")
            #expect(try await s.get("/hub/r2/api/models/fragile").status == 500, "nor squeezed from it")
            #expect(try await s.metrics().value("lora_squeeze_blobs_damaged_total", ["found_by": "read"]) == 1)
            await s.service.stop()
        } catch {
            await s.service.stop()
            throw error
        }
    }
}
