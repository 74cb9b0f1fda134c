import AdapterFormats
import Foundation
@testable import Service
import Store
import Testing
import TestSupport

/// Base models in the store and merged checkpoints, end to end: each merged weight against an
/// independent computation (base + s·B'·A' from the served squeezed files, by plain loops, within half
/// an ulp of the base's dtype), untargeted tensors and every other file byte-identical.
@Suite("Base models and merged checkpoints")
struct BaseModelTests {
    struct BaseJSON: Decodable {
        struct File: Decodable { let path: String; let size: Int64; let sha256: String; let url: String }
        struct Description: Decodable { let modelType: String?; let shards: [String]; let tensors: Int; let dtypes: [String: Int] }
        let digest: String
        let names: [String]
        let tensorCount: Int
        let files: [File]
        let description: Description?
    }

    /// A model directory's files as bytes, by name.
    static func modelFiles(dtype: DType = .f32, sharded: Bool = true) throws -> [String: [UInt8]] {
        let dir = AdapterFixture.temporaryDirectory("base")
        defer { try? FileManager.default.removeItem(at: dir) }
        var files: [String: [UInt8]] = [:]
        for name in try ModelFixture.write(at: dir, dtype: dtype, sharded: sharded) {
            files[name] = Array(try Data(contentsOf: dir.appendingPathComponent(name)))
        }
        return files
    }

    static func multipart(_ files: [String: [UInt8]]) -> (contentType: String, body: [UInt8]) {
        UploadBody.multipart(files.sorted { $0.key < $1.key }.map { UploadBody.Part(name: "file", filename: $0.key, bytes: $0.value) })
    }

    static func uploadBase(_ s: RunningService, _ files: [String: [UInt8]], query: String = "") async throws -> HTTPTestResponse {
        let (type, body) = multipart(files)
        return try await s.client.request("POST", "/v1/bases" + query, headers: [("Content-Type", type)], body: body)
    }

    /// The adapter for `ModelFixture`: q_proj and v_proj of both layers and the embedding, rank 8.
    static func adapter(seed: UInt64 = 5) throws -> PEFTUpload {
        try ServiceFixtures.peft(seed: seed, modules: ModelFixture.adapterModules(rank: 8, embedding: true), rank: 8, alpha: 16)
    }

    /// Checks a served merged shard against the base shard and `adapter`, computed independently.
    static func checkMerged(_ served: [UInt8], base: [UInt8], adapter: LoRAAdapter, dtype: DType) throws -> Int {
        let merged = try SafetensorsFile(bytes: served)
        let original = try SafetensorsFile(bytes: base)
        #expect(Array(merged.headerBytes) == Array(original.headerBytes), "the base's header, byte for byte")
        var changed = 0
        for t in original.tensors {
            let after = try #require(merged.header.entry(named: t.name))
            guard let m = adapter.modules.first(where: { $0.name + ".weight" == t.name }) else {
                #expect(Array(merged.rawBytes(of: after)) == Array(original.rawBytes(of: t)), "\(t.name): untargeted, unchanged")
                continue
            }
            let (a, b) = try adapter.factors(of: m)
            let w = try original.floats(t), got = try merged.floats(after)
            let transposed = m.kind == .embedding
            let bits: Double = dtype == .bf16 ? 8 : 24
            for i in 0..<m.outFeatures {
                for j in 0..<m.inFeatures {
                    var d = 0.0
                    for k in 0..<m.rank { d += b[i * m.rank + k] * a[k * m.inFeatures + j] }
                    let index = transposed ? j * m.outFeatures + i : i * m.inFeatures + j
                    let want = Double(w[index]) + m.scale * d
                    #expect(abs(Double(got[index]) - want) <= abs(want) * pow(2, -bits) + 1e-30, "\(t.name)[\(index)]")
                }
            }
            changed += 1
        }
        return changed
    }

    @Test("a sharded base: upload, list, files; merged at a rank and as uploaded, file by file and as a tar")
    func mergedCheckpoint() async throws {
        let files = try Self.modelFiles()
        let upload = try Self.adapter()
        try await ServiceHarness.with { s in
            let created = try await Self.uploadBase(s, files, query: "?name=fixture/model")
            try #require(created.status == 201, "\(created.text)")
            let base = try created.decode(BaseJSON.self)
            #expect(base.names == ["fixture/model"] && base.tensorCount == ModelFixture.tensors.count)
            #expect(base.files.map(\.path) == files.keys.sorted())
            #expect(base.description?.modelType == "gemma" && base.description?.shards == ModelFixture.shardNames)
            #expect(created.header("Location") == "/v1/bases/\(base.digest)")
            let again = try await Self.uploadBase(s, files)
            let againDigest = try again.decode(BaseJSON.self).digest
            #expect(again.status == 200 && againDigest == base.digest, "the same files: the same base")
            let tar = try UploadBody.tar(files.sorted { $0.key < $1.key }.map { .file("./gemma/" + $0.key, $0.value) })
            let byTar = try await s.client.request("POST", "/v1/bases", headers: [("Content-Type", "application/x-tar")], body: tar)
            let tarDigest = try byTar.decode(BaseJSON.self).digest
            #expect(byTar.status == 200 && tarDigest == base.digest, "a tar of the directory: the same base")
            let listed = try await s.get("/v1/bases")
            #expect(listed.status == 200 && listed.text.contains(base.digest))
            #expect(try await s.get("/v1/bases/fixture/model").status == 200)
            #expect(try await s.get("/v1/bases/fixture/model/files/config.json").body == files["config.json"])

            let digest = try await s.uploadPEFT(upload, name: "chat").digest
            let adapter = try upload.adapter()
            // Files the adapter does not change are the base's own bytes.
            for name in ["config.json", "tokenizer.json", "model.safetensors.index.json"] {
                let r = try await s.get("/v1/adapters/chat/merged/4/\(name)")
                #expect(r.status == 200 && r.body == files[name], "\(name)")
            }
            // Shards: base + the served rank-4 squeeze's s·B'·A' (its own files, read back), by default
            // into the base named like base_model_name_or_path.
            let config = try await s.get("/v1/adapters/\(digest)/squeezed/4/adapter_config.json")
            let weights = try await s.get("/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors")
            let squeezed = try LoRAAdapter.peft(config: try PEFTConfig(json: Data(config.body)), weights: try SafetensorsFile(bytes: weights.body))
            var served: [String: [UInt8]] = [:]
            var changed = 0
            for shard in ModelFixture.shardNames {
                #expect(try await s.get("/v1/adapters/chat/merged/4/\(shard)", headers: [("Connection", "keep-alive")]).status == 200)
                let r = try await s.get("/v1/adapters/\(digest)/merged/4/\(shard)?base=\(base.digest)")
                try #require(r.status == 200, "\(r.text)")
                #expect(r.header("ETag") == "\"" + (try SHA256.hash(r.body)).hex + "\"")
                #expect(try await s.get("/v1/adapters/chat/merged/4/\(shard)", headers: [("If-None-Match", r.header("ETag")!)]).status == 304)
                changed += try Self.checkMerged(r.body, base: files[shard]!, adapter: squeezed, dtype: .f32)
                served[shard] = r.body
            }
            #expect(changed == adapter.modules.count)
            // As uploaded: the original factors.
            changed = 0
            for shard in ModelFixture.shardNames {
                let r = try await s.get("/v1/adapters/chat/merged/original/\(shard)")
                try #require(r.status == 200, "\(r.text)")
                changed += try Self.checkMerged(r.body, base: files[shard]!, adapter: adapter, dtype: .f32)
            }
            #expect(changed == adapter.modules.count)

            // The tar: every file, the merged shards as served one by one.
            let archive = try await s.get("/v1/adapters/chat/merged/4.tar")
            try #require(archive.status == 200, "\(archive.text)")
            var reader = TarReader()
            var entries: [String: [UInt8]] = [:]
            var current = ""
            for e in try reader.feed(archive.body) + (try reader.finish()) {
                switch e {
                case let .entryBegin(entry): current = entry.name; entries[current] = []
                case let .entryData(bytes): entries[current, default: []] += bytes
                case .entryEnd: break
                }
            }
            #expect(Set(entries.keys) == Set(files.keys))
            for (name, bytes) in entries { #expect(bytes == (served[name] ?? files[name]), "\(name) in the tar") }

            // HEAD of a rank not computed yet: no promise of a length or ETag, nothing computed.
            let head = try await s.client.request("HEAD", "/v1/adapters/chat/merged/2/\(ModelFixture.shardNames[0])")
            #expect(head.status == 200 && head.header("ETag") == nil)

            // The base cannot go from under its merges, unless they go with it.
            try expectProblem(try await s.client.request("DELETE", "/v1/bases/fixture/model"), status: 409, detailContains: ["force"])
            let forced = try await s.client.request("DELETE", "/v1/bases/fixture/model?force=true")
            #expect(forced.status == 200 && forced.text.contains("\"removedCacheEntries\":4"), "\(forced.text)")
            try expectProblem(try await s.get("/v1/adapters/chat/merged/4/config.json"), status: 404, detailContains: ["fixture/model"])
            #expect(try await s.get("/v1/adapters/chat/squeezed/4/adapter_config.json").status == 200, "the squeeze stays")
        }
    }

    @Test("a bf16 single-file base: the merged weights are bf16, rounded once")
    func bf16() async throws {
        let files = try Self.modelFiles(dtype: .bf16, sharded: false)
        let upload = try Self.adapter(seed: 9)
        try await ServiceHarness.with { s in
            try #require(try await Self.uploadBase(s, files, query: "?name=fixture/model").status == 201)
            try await s.uploadPEFT(upload, name: "chat")
            let r = try await s.get("/v1/adapters/chat/merged/original/model.safetensors")
            try #require(r.status == 200, "\(r.text)")
            #expect(try SafetensorsFile(bytes: r.body).tensors.allSatisfy { $0.dtype == .bf16 })
            #expect(try Self.checkMerged(r.body, base: files["model.safetensors"]!, adapter: try upload.adapter(), dtype: .bf16) == 5)
        }
    }

    @Test("/hub/merged-r{R} is the merged model as a Hub model repository")
    func hubMergedView() async throws {
        let files = try Self.modelFiles()
        try await ServiceHarness.with { s in
            try #require(try await Self.uploadBase(s, files, query: "?name=fixture/model").status == 201)
            try await s.uploadPEFT(try Self.adapter(), name: "team-a/chat")
            let info = try await s.get("/hub/merged-r4/api/models/team-a/chat")
            try #require(info.status == 200, "\(info.text)")
            let object = try info.jsonObject()
            #expect(object["library_name"] as? String == "transformers")
            #expect((object["tags"] as? [String])?.contains("base_model:merge:fixture/model") == true)
            let siblings = try #require(object["siblings"] as? [[String: Any]])
            #expect(Set(siblings.compactMap { $0["rfilename"] as? String }) == Set(files.keys))
            for sibling in siblings {
                let name = try #require(sibling["rfilename"] as? String)
                let sha = (sibling["lfs"] as? [String: Any])?["sha256"] as? String
                let served = try await s.get("/hub/merged-r4/team-a/chat/resolve/main/\(name)")
                try #require(served.status == 200, "\(name): \(served.text)")
                #expect(sha == (try SHA256.hash(served.body)).hex, "\(name): the listing's SHA-256 is the served file's")
                let direct = try await s.get("/v1/adapters/team-a/chat/merged/4/\(name)")
                #expect(direct.body == served.body, "\(name): the same bytes as …/merged/4/\(name)")
                if !name.hasPrefix("model-") { #expect(served.body == files[name], "\(name): the base's own") }
            }
            #expect(try await s.get("/hub/merged-original/api/models/team-a/chat").status == 200)
            for bad in ["merged-r0", "merged-r4-bf16", "merged-", "merged-originalx", "merged-r04"] {
                #expect(try await s.get("/hub/\(bad)/api/models/team-a/chat").status == 404, "\(bad)")
            }
        }
    }

    @Test("identical concurrent requests for a merged shard compute it once")
    func concurrentMergesComputeOnce() async throws {
        let files = try Self.modelFiles()
        try await ServiceHarness.with { s in
            try #require(try await Self.uploadBase(s, files, query: "?name=fixture/model").status == 201)
            try await s.uploadPEFT(try Self.adapter(), name: "chat")
            let before = try await s.metrics().value("lora_squeeze_squeeze_duration_seconds_count")
            let shard = ModelFixture.shardNames[0]
            let bodies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for _ in 0..<4 { group.addTask { try await s.get("/v1/adapters/chat/merged/original/\(shard)").body } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(bodies).count == 1 && bodies[0].count == files[shard]!.count)
            let after = try await s.metrics().value("lora_squeeze_squeeze_duration_seconds_count")
            #expect(after - before == 1, "one computation for four requests: \(after - before)")
        }
    }

    @Test("base names move like adapter names, in their own space, within a token's namespace")
    func baseNames() async throws {
        let files = try Self.modelFiles()
        try await ServiceHarness.with { s in
            let base = try await Self.uploadBase(s, files, query: "?name=team-a/gemma").decode(BaseJSON.self)
            let moved = try await s.client.send("PUT", "/v1/base-names/team-a/production", json: "{\"base\": \"team-a/gemma\"}")
            #expect(moved.status == 201, "\(moved.text)")
            #expect(try await s.get("/v1/bases/team-a/production").decode(BaseJSON.self).digest == base.digest)
            #expect(try await s.get("/v1/adapters/team-a/production").status == 404, "an adapter's name is another thing")
            #expect(try await s.client.send("PUT", "/v1/base-names/team-a/production", json: "{\"base\": \"\(base.digest)\"}").status == 200)
            try expectProblem(try await s.client.send("PUT", "/v1/base-names/x", json: "{\"base\": \"nobody\"}"), status: 404)
            try expectProblem(try await s.client.send("PUT", "/v1/base-names/x", json: "{\"adapter\": \"team-a/gemma\"}"), status: 400)
            let other = try await s.createToken(name: "team-b", scope: "write", namespace: "team-b")
            let teamB = s.client(token: other.token)
            try expectProblem(try await teamB.send("PUT", "/v1/base-names/team-b/mine", json: "{\"base\": \"team-a/gemma\"}"), status: 404,
                              "team-b cannot see team-a's base")
            try expectProblem(try await teamB.request("DELETE", "/v1/base-names/team-a/production"), status: 403)
            #expect(try await s.client.request("DELETE", "/v1/base-names/team-a/production").status == 204)
            #expect(try await s.client.request("DELETE", "/v1/base-names/team-a/production").status == 404)
            #expect(try await s.get("/v1/bases/team-a/gemma").status == 200, "the base stays")
        }
    }

    @Test("bad model directories are refused naming the file or tensor, and nothing is stored")
    func badBases() async throws {
        let good = try Self.modelFiles()
        var indexLies = good
        let (one, two) = (ModelFixture.shardNames[0], ModelFixture.shardNames[1])
        indexLies["model.safetensors.index.json"] = Array(String(decoding: good["model.safetensors.index.json"]!, as: UTF8.self)
            .replacingOccurrences(of: "\"model.norm.weight\": \"\(two)\"", with: "\"model.norm.weight\": \"\(one)\"").utf8)
        var pickle = good
        pickle["pytorch_model.bin"] = [1, 2, 3]
        var noConfig = good
        noConfig["config.json"] = nil
        var truncated = good
        truncated[two] = Array(good[two]!.dropLast(4))
        let cases: [(String, [String: [UInt8]], [String])] = [
            ("index puts a tensor in the wrong shard", indexLies, ["model.norm.weight", one, two]),
            ("a pickle", pickle, ["pytorch_model.bin"]),
            ("no config.json", noConfig, ["config.json"]),
            ("a truncated shard", truncated, [two]),
        ]
        try await ServiceHarness.with { s in
            let before = s.blobFiles()
            for (label, files, fragments) in cases {
                let r = try await Self.uploadBase(s, files)
                let problem = try expectProblem(r, status: 422, detailContains: fragments, label)
                #expect(problem.type.hasSuffix("invalid-model"), "\(label): \(problem.type)")
            }
            let hostile = Self.multipart(["config.json": [123, 125], "../../etc/passwd": [0]])
            let r = try await s.client.request("POST", "/v1/bases", headers: [("Content-Type", hostile.contentType)], body: hostile.body)
            #expect(r.status == 422, "a file name is its last path component, and .. is no file name: \(r.text)")
            let octet = try await s.client.request("POST", "/v1/bases", headers: [("Content-Type", "application/octet-stream")], body: [1])
            try expectProblem(octet, status: 415)
            #expect(s.blobFiles() == before && s.temporaryFiles().isEmpty, "nothing stored, nothing left behind")
            #expect(try await s.get("/v1/bases").text.contains("\"total\":0"))
        }
    }

    @Test("an adapter that does not fit the base, and bad merge requests, are refused before any work")
    func badMerges() async throws {
        let files = try Self.modelFiles()
        try await ServiceHarness.with { s in
            let base = try await Self.uploadBase(s, files, query: "?name=fixture/model").decode(BaseJSON.self)
            let wide = try ServiceFixtures.peft(seed: 3, modules: [.init("model.layers.0.self_attn.q_proj", out: 40, in: 32, rank: 4)], rank: 4, alpha: 4)
            try await s.uploadPEFT(wide, name: "wide")
            try expectProblem(try await s.get("/v1/adapters/wide/merged/2/\(ModelFixture.shardNames[0])"), status: 422,
                              detailContains: ["model.layers.0.self_attn.q_proj.weight", "[32, 32]", "[40, 32]"])
            let other = try ServiceFixtures.peft(seed: 4, modules: [.init("model.layers.9.mlp.up_proj", out: 64, in: 32, rank: 4)], rank: 4, alpha: 4,
                                                 config: ["base_model_name_or_path": .string("someone/else")])
            try await s.uploadPEFT(other, name: "other")
            try expectProblem(try await s.get("/v1/adapters/other/merged/2/config.json"), status: 404, detailContains: ["someone/else", "?base="])
            try expectProblem(try await s.get("/v1/adapters/other/merged/2/config.json?base=\(base.digest)"), status: 422,
                              detailContains: ["model.layers.9.mlp.up_proj.weight"])
            try await s.uploadPEFT(try Self.adapter(), name: "chat")
            try expectProblem(try await s.get("/v1/adapters/chat/merged/4/config.json?dtype=bf16"), status: 400, detailContains: ["dtype"])
            try expectProblem(try await s.get("/v1/adapters/chat/merged/four/config.json"), status: 400, detailContains: ["original"])
            try expectProblem(try await s.get("/v1/adapters/chat/merged/0/config.json"), status: 400)
            try expectProblem(try await s.get("/v1/adapters/chat/merged/original/config.json?method=rsvd"), status: 400)
            try expectProblem(try await s.get("/v1/adapters/chat/merged/4/missing.json"), status: 404, detailContains: ["tokenizer.json"])
            try expectProblem(try await s.get("/v1/adapters/chat/merged/4/config.json?base=nobody"), status: 404)
            try expectProblem(try await s.get("/v1/adapters/chat/merged/4.zip"), status: 404)
            #expect(try await s.get("/v1/adapters/chat").status == 200)
            #expect(try await s.client.request("DELETE", "/v1/bases/fixture/model").status == 200, "no merge was cached")
        }
    }
}
