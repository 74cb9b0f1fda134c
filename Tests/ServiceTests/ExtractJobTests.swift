import AdapterFormats
import Foundation
@testable import Service
import Testing
import TestSupport

/// POST /v1/extract end to end: two stored models (a base, and base + a known rank-4 update + noise
/// on three weights) become a stored adapter whose s·B·A is ΔW's best rank-4 approximation (checked
/// against a dense SVD of ΔW formed by loops), with every module's energy and error in the job.
@Suite("Extract jobs")
struct ExtractJobTests {
    struct ExtractJobJSON: Decodable {
        struct Module: Decodable { let module: String; let status: String; let rank: Int?; let energy: Double?; let relativeError: Double?; let unchanged: Bool? }
        struct Result: Decodable { let adapter: String; let names: [String]; let modules: Int; let meanEnergy: Double; let minEnergy: Double }
        let id: String
        let kind: String
        let state: String
        let done: Int
        let total: Int
        let modules: [Module]?
        let result: Result?
        let error: String?
    }

    static func directory(_ dir: URL) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            files[name] = Array(try Data(contentsOf: dir.appendingPathComponent(name)))
        }
        return files
    }

    @Test("a base and its fine-tune become a stored adapter at rank 4, the job reporting each module")
    func extract() async throws {
        let dir = AdapterFixture.temporaryDirectory("extract-job")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFixture.write(at: dir.appendingPathComponent("base"), dtype: .bf16)
        try ModelFixture.writeTuned(from: dir.appendingPathComponent("base"), to: dir.appendingPathComponent("tuned"), rank: 4, noise: 1e-3)
        let base = try Self.directory(dir.appendingPathComponent("base")), tuned = try Self.directory(dir.appendingPathComponent("tuned"))
        try await ServiceHarness.with { s in
            try #require(try await BaseModelTests.uploadBase(s, base, query: "?name=fixture/model").status == 201)
            try #require(try await BaseModelTests.uploadBase(s, tuned, query: "?name=fixture/tuned").status == 201)
            let created = try await s.client.send("POST", "/v1/extract",
                                                  json: #"{"base": "fixture/model", "tuned": "fixture/tuned", "rank": 4, "name": "extracted", "dtype": "f32"}"#)
            try #require(created.status == 202, "\(created.text)")
            let location = try #require(created.header("Location"))
            _ = try await s.waitForJob(location)
            let job = try await s.get(location).decode(ExtractJobJSON.self)
            try #require(job.state == "succeeded", "\(job.error ?? "")")
            #expect(job.kind == "extract" && job.done == job.total && job.total == 14, "every 2-D weight but the embedding: \(job.total)")
            let changed = try #require(job.modules).filter { $0.unchanged != true }
            #expect(changed.map { $0.module + ".weight" }.sorted() == ModelFixture.tunedWeights.sorted())
            #expect(changed.allSatisfy { $0.rank == 4 && ($0.energy ?? 0) > 0.99 })
            let result = try #require(job.result)
            #expect(result.names == ["extracted"] && result.modules == 3)

            // The stored adapter, read back through the API: each module's s·B·A against ΔW's optimum.
            let config = try await s.get("/v1/adapters/extracted/files/adapter_config.json")
            let weights = try await s.get("/v1/adapters/extracted/files/adapter_model.safetensors")
            let adapter = try LoRAAdapter.peft(config: try PEFTConfig(json: Data(config.body)), weights: try SafetensorsFile(bytes: weights.body))
            #expect(adapter.peftConfig?.baseModel == "fixture/model")
            for m in adapter.modules {
                let name = m.name + ".weight"
                let shard = try #require(ModelFixture.tensors.first { $0.name == name }).shard
                let w0 = try SafetensorsFile(bytes: base[ModelFixture.shardNames[shard]]!).floats(named: name)
                let w1 = try SafetensorsFile(bytes: tuned[ModelFixture.shardNames[shard]]!).floats(named: name)
                let delta = zip(w1, w0).map { Double($0) - Double($1) }
                let reference = try DenseUpdate.singularValues(of: delta, rows: m.outFeatures, columns: m.inFeatures)
                let norm = reference.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let optimal = reference.dropFirst(4).reduce(0) { $0 + $1 * $1 }.squareRoot()
                let (a, b) = try adapter.factors(of: m)
                var sum = 0.0
                for i in 0..<m.outFeatures {
                    for j in 0..<m.inFeatures {
                        var y = 0.0
                        for k in 0..<m.rank { y += b[i * m.rank + k] * a[k * m.inFeatures + j] }
                        let e = delta[i * m.inFeatures + j] - m.scale * y
                        sum += e * e
                    }
                }
                // F32 factors: 1e-6·‖ΔW‖ of rounding on top of randomized SVD's near-optimal error.
                #expect(sum.squareRoot() <= optimal * 1.001 + 1e-6 * norm, "\(m.name): \(sum.squareRoot()) vs optimal \(optimal)")
            }
        }
    }

    @Test("models that do not match, and bad requests, are refused before a job exists")
    func refused() async throws {
        let dir = AdapterFixture.temporaryDirectory("extract-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFixture.write(at: dir.appendingPathComponent("base"), sharded: false)
        try ModelFixture.write(at: dir.appendingPathComponent("sharded"), sharded: true)
        try await ServiceHarness.with { s in
            try #require(try await BaseModelTests.uploadBase(s, try Self.directory(dir.appendingPathComponent("base")), query: "?name=a").status == 201)
            // A different model: the same tensors in two shards with another seed is fine, so make it
            // another shape by uploading the token embedding cut short.
            var other = try Self.directory(dir.appendingPathComponent("base"))
            let file = try SafetensorsFile(bytes: other["model.safetensors"]!)
            other["model.safetensors"] = try SafetensorsWriter.encode(file.tensors.map { t in
                t.name == "model.norm.weight"
                    ? TensorToWrite(name: t.name, dtype: t.dtype, shape: [16], bytes: [UInt8](repeating: 0, count: 16 * t.dtype.byteWidth))
                    : TensorToWrite(name: t.name, dtype: t.dtype, shape: t.shape, bytes: Array(file.rawBytes(of: t)))
            })
            try #require(try await BaseModelTests.uploadBase(s, other, query: "?name=b").status == 201)
            try expectProblem(try await s.client.send("POST", "/v1/extract", json: #"{"base": "a", "tuned": "b", "rank": 4}"#),
                              status: 422, detailContains: ["model.norm.weight", "[32]", "[16]"])
            try expectProblem(try await s.client.send("POST", "/v1/extract", json: #"{"base": "a", "tuned": "a", "rank": 4, "targets": ["nope"]}"#),
                              status: 422, detailContains: ["nope"])
            try expectProblem(try await s.client.send("POST", "/v1/extract", json: #"{"base": "a", "tuned": "a", "rank": 0}"#), status: 400)
            try expectProblem(try await s.client.send("POST", "/v1/extract", json: #"{"base": "a", "tuned": "a", "rank": 4, "energy": 2}"#), status: 400)
            try expectProblem(try await s.client.send("POST", "/v1/extract", json: #"{"base": "a", "tuned": "nobody", "rank": 4}"#), status: 404)
            try expectProblem(try await s.client.send("POST", "/v1/extract", json: #"{"base": "a", "rank": 4}"#), status: 400, detailContains: ["tuned"])
            // The same model twice: nothing changed, so the job fails saying so.
            let same = try await s.client.send("POST", "/v1/extract", json: #"{"base": "a", "tuned": "a", "rank": 4}"#)
            try #require(same.status == 202)
            let job = try await s.waitForJob(try #require(same.header("Location")))
            #expect(job.state == "failed" && (job.error ?? "").contains("nothing to extract"), "\(job.error ?? "")")
        }
    }
}
