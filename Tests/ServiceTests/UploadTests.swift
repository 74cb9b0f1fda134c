import AdapterFormats
import Foundation
import Testing
import TestSupport

@Suite("Uploading adapters in every format, over a socket")
struct UploadTests {
    /// The served config is canonical JSON, so it is compared as fields, never as bytes.
    static func expectSameConfig(_ served: [UInt8], _ uploaded: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try ServiceFixtures.fields(served) == (try ServiceFixtures.fields(uploaded)), sourceLocation: sourceLocation)
    }

    @Test("multipart with parts named after the files: 201, described, files served back; the same content again is 200")
    func multipartByPartName() async throws {
        let files = try ServiceFixtures.peft(seed: 11)
        try await ServiceHarness.with { s in
            let (type, body) = UploadBody.peftMultipart(config: files.config, weights: files.weights)
            let first = try await s.upload(contentType: type, body: body)
            #expect(first.status == 201, "\(first.text)")
            let adapter = try first.decode(AdapterJSON.self)
            #expect(adapter.digest.count == 64 && adapter.digest.allSatisfy { "0123456789abcdef".contains($0) })
            #expect(first.header("Location") == "/v1/adapters/\(adapter.digest)")
            #expect(adapter.format == "peft")
            #expect(adapter.baseModel == "fixture/model")
            #expect(adapter.moduleCount == ServiceFixtures.modules.count)
            #expect(adapter.names.isEmpty)
            let modules = try #require(adapter.modules)
            #expect(modules.map(\.name).sorted() == ServiceFixtures.modules.map(\.name).sorted())
            for m in ServiceFixtures.modules {
                let served = try #require(modules.first { $0.name == m.name })
                #expect(served.outFeatures == m.out && served.inFeatures == m.inFeatures && served.rank == m.rank, "\(m.name)")
                #expect(served.dtype == "F32" && served.kind == "linear", "\(m.name): \(served.dtype) \(served.kind)")
                #expect(served.alpha == 16 && served.scale == 2, "\(m.name): alpha \(served.alpha) scale \(served.scale)")
            }

            let weights = try await s.get("/v1/adapters/\(adapter.digest)/files/adapter_model.safetensors")
            #expect(weights.status == 200)
            #expect(weights.body == files.weights, "the weights come back byte for byte")
            let config = try await s.get("/v1/adapters/\(adapter.digest)/files/adapter_config.json")
            #expect(config.status == 200)
            #expect(config.header("Content-Type") == "application/json")
            try Self.expectSameConfig(config.body, files.config)

            let again = try await s.upload(contentType: type, body: body)
            #expect(again.status == 200, "\(again.text)")
            #expect(try again.decode(AdapterJSON.self).digest == adapter.digest)
            #expect(try await s.list().total == 1)
        }
    }

    @Test("multipart recognised by filename under other part names; unrelated parts are ignored")
    func multipartByFilename() async throws {
        let files = try ServiceFixtures.peft(seed: 12)
        try await ServiceHarness.with { s in
            let (type, body) = UploadBody.multipart([
                .init(name: "notes", contentType: "text/plain", bytes: Array("trained on a Tuesday".utf8)),
                .init(name: "config", filename: "adapter_config.json", contentType: "application/json", bytes: files.config),
                .init(name: "weights", filename: "adapter_model.safetensors", bytes: files.weights),
            ])
            let response = try await s.upload(contentType: type, body: body, query: "?name=by-filename")
            #expect(response.status == 201, "\(response.text)")
            let adapter = try response.decode(AdapterJSON.self)
            #expect(adapter.names == ["by-filename"])
            #expect(adapter.moduleCount == ServiceFixtures.modules.count)
            let weights = try await s.get("/v1/adapters/by-filename/files/adapter_model.safetensors")
            #expect(weights.body == files.weights)
        }
    }

    @Test("a tar of a PEFT directory (./ prefixes, a README to ignore) stores the same adapter as multipart")
    func tarOfDirectory() async throws {
        let files = try ServiceFixtures.peft(seed: 13)
        try await ServiceHarness.with { s in
            let response = try await s.upload(contentType: "application/x-tar",
                                              body: try UploadBody.peftTar(config: files.config, weights: files.weights))
            #expect(response.status == 201, "\(response.text)")
            let adapter = try response.decode(AdapterJSON.self)
            #expect(adapter.format == "peft" && adapter.moduleCount == ServiceFixtures.modules.count)
            #expect(Set(adapter.files.keys) == [PEFTFiles.config, PEFTFiles.weights], "README.md must not be stored: \(adapter.files)")
            let weights = try await s.get(try #require(adapter.files[PEFTFiles.weights]))
            #expect(weights.body == files.weights)
            let config = try await s.get(try #require(adapter.files[PEFTFiles.config]))
            try Self.expectSameConfig(config.body, files.config)

            // The same files as multipart, with the config re-serialised compactly in another key order:
            // the adapter's identity is its canonical content, so this is the same adapter.
            let fields = try ServiceFixtures.fields(files.config)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let compact = Array(try encoder.encode(JSONValue.object(fields)))
            #expect(compact != files.config)
            let (type, body) = UploadBody.peftMultipart(config: compact, weights: files.weights)
            let again = try await s.upload(contentType: type, body: body)
            #expect(again.status == 200, "\(again.text)")
            #expect(try again.decode(AdapterJSON.self).digest == adapter.digest)
        }
    }

    @Test("a tar made by macOS tar (AppleDouble ._ entries beside the files) stores the adapter")
    func tarWithAppleDouble() async throws {
        // bsdtar on macOS writes "._name" resource-fork entries before files that carry extended attributes
        // (com.apple.quarantine on anything downloaded). They are metadata, not a second weights file.
        let files = try ServiceFixtures.peft(seed: 14)
        let appleDouble = [UInt8](repeating: 0, count: 82)
        let tar = try UploadBody.tar([.directory("./"), .file("./._adapter_config.json", appleDouble), .file("./adapter_config.json", files.config),
                                  .file("./._adapter_model.safetensors", appleDouble), .file("./adapter_model.safetensors", files.weights)])
        try await ServiceHarness.with { s in
            let response = try await s.upload(contentType: "application/x-tar", body: tar)
            #expect(response.status == 201, "\(response.text)")
            guard response.status == 201 else { return }
            let adapter = try response.decode(AdapterJSON.self)
            #expect(try await s.get("/v1/adapters/\(adapter.digest)/files/adapter_model.safetensors").body == files.weights)
        }
    }

    @Test("a kohya .safetensors as application/octet-stream: one file, no config")
    func kohyaOctetStream() async throws {
        let kohya = try ServiceFixtures.kohya(seed: 21)
        try await ServiceHarness.with { s in
            let response = try await s.upload(contentType: "application/octet-stream", body: kohya, query: "?name=sd-style")
            #expect(response.status == 201, "\(response.text)")
            let adapter = try response.decode(AdapterJSON.self)
            #expect(adapter.format == "kohya")
            #expect(adapter.moduleCount == 3)
            #expect(adapter.baseModel == nil)
            #expect(Set(adapter.files.keys) == [PEFTFiles.weights])
            let kinds = try #require(adapter.modules).map(\.kind).sorted()
            #expect(kinds == ["conv", "linear", "linear"])
            let weights = try await s.get("/v1/adapters/sd-style/files/adapter_model.safetensors")
            #expect(weights.status == 200 && weights.body == kohya)
            try expectProblem(try await s.get("/v1/adapters/sd-style/files/adapter_config.json"), status: 404, "kohya config")
            try expectProblem(try await s.get("/v1/adapters/sd-style/files/README.md"), status: 404, "unknown file")

            let again = try await s.upload(contentType: "application/octet-stream", body: kohya)
            #expect(again.status == 200)
            #expect(try again.decode(AdapterJSON.self).names == ["sd-style"], "a re-upload without ?name= keeps the tag")
        }
    }

    @Test("listing: paging with limit/offset, filters by name prefix and base model; digest and name agree")
    func listing() async throws {
        let a = try ServiceFixtures.peft(seed: 31)
        let b = try ServiceFixtures.peft(seed: 32)
        let c = try ServiceFixtures.peft(seed: 33, config: ["base_model_name_or_path": .string("other/base")])
        let k = try ServiceFixtures.kohya(seed: 34)
        try await ServiceHarness.with { s in
            let da = try await s.uploadPEFT(a, name: "team-a.one").digest
            let db = try await s.uploadPEFT(b, name: "team-a.two").digest
            let dc = try await s.uploadPEFT(c, name: "team-b.one").digest
            let dk = try await s.uploadKohya(k).digest
            let all = Set([da, db, dc, dk])
            #expect(all.count == 4)

            let whole = try await s.list()
            #expect(whole.total == 4 && Set(whole.items.map(\.digest)) == all && whole.nextOffset == nil)
            #expect(whole.items.allSatisfy { $0.modules == nil }, "list items are not detailed")

            // Pages of 3: [0, 3) then [3, 4); together every adapter exactly once.
            let first = try await s.list("?limit=3")
            #expect(first.items.count == 3 && first.total == 4 && first.nextOffset == 3)
            let second = try await s.list("?limit=3&offset=3")
            #expect(second.items.count == 1 && second.total == 4 && second.nextOffset == nil)
            let paged = first.items.map(\.digest) + second.items.map(\.digest)
            #expect(paged.count == 4 && Set(paged) == all)
            #expect(try await s.list("?offset=4").items.isEmpty)

            let teamA = try await s.list("?name=team-a")
            #expect(teamA.total == 2 && Set(teamA.items.map(\.digest)) == [da, db])
            #expect(try await s.list("?name=team-").total == 3)
            #expect(try await s.list("?name=nobody").total == 0)
            let other = try await s.list("?base_model=other/base")
            #expect(other.total == 1 && other.items.map(\.digest) == [dc])
            #expect(try await s.list("?base_model=fixture/model").total == 2)

            try expectProblem(try await s.get("/v1/adapters?limit=0"), status: 400, "limit 0")
            try expectProblem(try await s.get("/v1/adapters?offset=-1"), status: 400, "negative offset")

            let byName = try await s.get("/v1/adapters/team-a.two")
            let byDigest = try await s.get("/v1/adapters/\(db)")
            #expect(byName.status == 200 && byDigest.status == 200)
            #expect(byName.body == byDigest.body, "the same description whichever way the adapter is named")
            // The description lists the adapter's names, which can move: never cached as immutable.
            #expect(byName.header("Cache-Control") == "no-cache" && byDigest.header("Cache-Control") == "no-cache")
            let described = try byName.decode(AdapterJSON.self)
            #expect(described.digest == db && described.names == ["team-a.two"] && described.modules?.count == ServiceFixtures.modules.count)
        }
    }

    @Test("PUT /v1/names/{name} creates then moves a tag; DELETE removes tags and adapters")
    func tagsAndDeletion() async throws {
        let a = try ServiceFixtures.peft(seed: 41)
        let b = try ServiceFixtures.peft(seed: 42)
        try await ServiceHarness.with { s in
            let da = try await s.uploadPEFT(a).digest
            let db = try await s.uploadPEFT(b, name: "b-original").digest

            let created = try await s.client.send("PUT", "/v1/names/prod", json: "{\"adapter\": \"\(da)\"}")
            #expect(created.status == 201, "\(created.text)")
            let c = try created.decode(NameMoveJSON.self)
            #expect(c.name == "prod" && c.digest == da && c.previous == nil)
            #expect(try await s.get("/v1/adapters/prod").decode(AdapterJSON.self).digest == da)

            // Moved by naming the target with another tag.
            let moved = try await s.client.send("PUT", "/v1/names/prod", json: "{\"adapter\": \"b-original\"}")
            #expect(moved.status == 200, "\(moved.text)")
            let m = try moved.decode(NameMoveJSON.self)
            #expect(m.digest == db && m.previous == da)
            #expect(try await s.get("/v1/adapters/prod").decode(AdapterJSON.self).digest == db)
            #expect(try await s.get("/v1/adapters/\(da)").decode(AdapterJSON.self).names.isEmpty)
            #expect(Set(try await s.get("/v1/adapters/\(db)").decode(AdapterJSON.self).names) == ["b-original", "prod"])
            let weights = try await s.get("/v1/adapters/prod/files/adapter_model.safetensors")
            #expect(weights.body == b.weights, "the name now serves the other adapter's files")

            try expectProblem(try await s.client.send("PUT", "/v1/names/prod", json: "{\"adapter\": \"missing\"}"), status: 404, "unknown target")
            try expectProblem(try await s.client.send("PUT", "/v1/names/prod", json: "not json"), status: 400, "bad body")
            #expect(try await s.get("/v1/adapters/prod").decode(AdapterJSON.self).digest == db, "a failed move leaves the tag")

            #expect(try await s.client.request("DELETE", "/v1/names/prod").status == 204)
            try expectProblem(try await s.get("/v1/adapters/prod"), status: 404, "deleted tag")
            try expectProblem(try await s.client.request("DELETE", "/v1/names/prod"), status: 404, "deleted twice")

            // Deleting an adapter (by name) removes it, its tags and its blobs.
            let blobsBefore = s.blobFiles()
            let deleted = try await s.client.request("DELETE", "/v1/adapters/b-original")
            #expect(deleted.status == 200, "\(deleted.text)")
            #expect(try deleted.jsonObject()["digest"] as? String == db)
            try expectProblem(try await s.get("/v1/adapters/\(db)"), status: 404, "deleted adapter by digest")
            try expectProblem(try await s.get("/v1/adapters/b-original"), status: 404, "deleted adapter by name")
            try expectProblem(try await s.get("/v1/adapters/\(db)/files/adapter_model.safetensors"), status: 404, "deleted adapter's file")
            try expectProblem(try await s.client.request("DELETE", "/v1/adapters/\(db)"), status: 404, "deleted twice")
            let page = try await s.list()
            #expect(page.total == 1 && page.items.map(\.digest) == [da])
            // a and b have the same canonical config (same modules, r, alpha, base model): one shared blob,
            // which stays for a. Only b's weights blob goes.
            let removed = blobsBefore.subtracting(s.blobFiles())
            #expect(removed.count == 1, "exactly the deleted adapter's weights blob is gone: \(removed)")
            #expect(s.blobFiles().isSubset(of: blobsBefore))
            let sharedConfig = try await s.get("/v1/adapters/\(da)/files/adapter_config.json")
            #expect(sharedConfig.status == 200)
            try Self.expectSameConfig(sharedConfig.body, a.config)

            // Uploading it again stores it anew.
            #expect(try await s.uploadPEFT(b, expecting: 201).digest == db)

            // ?name= on an upload points the tag at what was uploaded, moving it if it pointed elsewhere,
            // also when the content was already stored (200).
            #expect(try await s.uploadPEFT(a, name: "latest", expecting: 200).names == ["latest"])
            let retagged = try await s.uploadPEFT(b, name: "latest", expecting: 200)
            #expect(retagged.digest == db && retagged.names == ["latest"])
            #expect(try await s.get("/v1/adapters/latest").decode(AdapterJSON.self).digest == db)
            #expect(try await s.get("/v1/adapters/\(da)").decode(AdapterJSON.self).names.isEmpty)
        }
    }
}
