import AdapterFormats
import Foundation
import Testing
import TestSupport

@Suite("Normalize jobs: creation, progress, outcomes that download")
struct NormalizeJobTests {
    /// Posts a normalize job; requires 202 with a Location, and returns that location.
    static func create(_ s: RunningService, _ json: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let response = try await s.client.send("POST", "/v1/normalize", json: json)
        try #require(response.status == 202, "normalize: \(response.status) \(response.text)", sourceLocation: sourceLocation)
        let job = try response.decode(JobJSON.self)
        let location = try #require(response.header("Location"), sourceLocation: sourceLocation)
        #expect(location == "/v1/jobs/\(job.id)", sourceLocation: sourceLocation)
        #expect(job.kind == "normalize", sourceLocation: sourceLocation)
        return location
    }

    /// Every outcome is done and each of its URLs downloads (the config only for PEFT).
    static func expectDownloadable(_ s: RunningService, _ job: JobJSON, formats: [String: String],
                                   sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(job.state == "succeeded", "job \(job.state): \(job.error ?? "")", sourceLocation: sourceLocation)
        #expect(job.done == job.total, sourceLocation: sourceLocation)
        #expect(job.adapters.count == job.total, sourceLocation: sourceLocation)
        for outcome in job.adapters {
            #expect(outcome.status == "done", "\(outcome.digest): \(outcome.status) \(outcome.error ?? "")", sourceLocation: sourceLocation)
            let urls = outcome.urls ?? [:]
            let expected: Set<String> = formats[outcome.digest] == "kohya"
                ? ["adapter_model.safetensors", "tar"] : ["adapter_config.json", "adapter_model.safetensors", "tar"]
            #expect(Set(urls.keys) == expected, "\(outcome.digest): \(urls.keys.sorted())", sourceLocation: sourceLocation)
            for (file, url) in urls {
                #expect(url.hasPrefix("/v1/adapters/\(outcome.digest)/squeezed/"), "\(url)", sourceLocation: sourceLocation)
                let response = try await s.get(url)
                #expect(response.status == 200 && !response.body.isEmpty, "\(file) \(url): \(response.status) \(response.text.prefix(200))",
                        sourceLocation: sourceLocation)
            }
        }
    }

    @Test("by a list of refs: 202, progress to succeeded, outcomes equal the direct squeeze URLs")
    func byList() async throws {
        let a = try ServiceFixtures.peft(seed: 71)
        let b = try ServiceFixtures.peft(seed: 72)
        let k = try ServiceFixtures.kohya(seed: 73)
        try await ServiceHarness.with { s in
            let da = try await s.uploadPEFT(a, name: "fleet.a").digest
            let db = try await s.uploadPEFT(b).digest
            let dk = try await s.uploadKohya(k, name: "fleet.k").digest
            // A name, a digest and the same adapter twice (deduplicated).
            let location = try await Self.create(s, "{\"adapters\": [\"fleet.a\", \"\(db)\", \"fleet.k\", \"\(da)\"], \"rank\": 4}")
            let job = try await s.waitForJob(location)
            #expect(job.total == 3)
            #expect(job.adapters.map(\.digest) == [da, db, dk], "in request order, each once")
            try await Self.expectDownloadable(s, job, formats: [da: "peft", db: "peft", dk: "kohya"])

            // The job's squeeze is the one a direct request gets: a cache hit with the same ETag.
            let direct = try await s.get("/v1/adapters/\(da)/squeezed/4/adapter_model.safetensors")
            let url = try #require(job.adapters.first?.urls?["adapter_model.safetensors"])
            let viaJob = try await s.get(url)
            #expect(direct.status == 200 && direct.header("ETag") == viaJob.header("ETag") && direct.body == viaJob.body)
            let metrics = try await s.metrics()
            #expect(metrics.value("lora_squeeze_jobs", ["state": "succeeded"]) == 1)
            #expect(metrics.value("lora_squeeze_squeezed_modules_total") == Double(2 * ServiceFixtures.modules.count + 3),
                    "each adapter squeezed once, by the job")
        }
    }

    @Test("by name prefix and by all: the job covers exactly the matching adapters")
    func byPrefixAndAll() async throws {
        let uploads = try (81...83).map { try ServiceFixtures.peft(seed: UInt64($0)) }
        try await ServiceHarness.with { s in
            let d1 = try await s.uploadPEFT(uploads[0], name: "prod.one").digest
            let d2 = try await s.uploadPEFT(uploads[1], name: "prod.two").digest
            let d3 = try await s.uploadPEFT(uploads[2], name: "staging.one").digest
            let formats = [d1: "peft", d2: "peft", d3: "peft"]

            let prefixJob = try await s.waitForJob(try await Self.create(s, "{\"prefix\": \"prod.\", \"rank\": 2, \"dtype\": \"f16\"}"))
            #expect(prefixJob.total == 2 && Set(prefixJob.adapters.map(\.digest)) == [d1, d2])
            try await Self.expectDownloadable(s, prefixJob, formats: formats)
            // The options travel in the URLs: these are F16 files at rank 2.
            let url = try #require(prefixJob.adapters.first?.urls?["adapter_model.safetensors"])
            #expect(url.contains("dtype=f16"), "\(url)")
            let file = try SafetensorsFile(bytes: try await s.get(url).body)
            #expect(file.tensors.allSatisfy { $0.dtype == .f16 && ($0.shape.first == 2 || $0.shape.last == 2) })

            let allJob = try await s.waitForJob(try await Self.create(s, "{\"all\": true, \"rank\": 3}"))
            #expect(allJob.total == 3 && Set(allJob.adapters.map(\.digest)) == [d1, d2, d3])
            try await Self.expectDownloadable(s, allJob, formats: formats)
            #expect(try await s.metrics().value("lora_squeeze_jobs", ["state": "succeeded"]) == 2)
        }
    }

    @Test("a job that names an unknown adapter, or is malformed, is refused at creation and no job exists",
          arguments: [
            ("{\"adapters\": [\"known\", \"no-such-adapter\"], \"rank\": 4}", 404),
            ("{\"adapters\": [\"\(String(repeating: "0", count: 64))\"], \"rank\": 4}", 404),
            ("{\"adapters\": [\"../etc\"], \"rank\": 4}", 400),
            ("{\"adapters\": [], \"rank\": 4}", 400),
            ("{\"adapters\": [\"known\"], \"all\": true, \"rank\": 4}", 400),
            ("{\"rank\": 4}", 400),
            ("{\"all\": true, \"rank\": 0}", 400),
            ("{\"all\": true, \"rank\": 4, \"method\": \"qr\"}", 400),
            ("{\"all\": true}", 400),
            ("[1, 2, 3]", 400),
          ])
    func refusedAtCreation(body: String, status: Int) async throws {
        let files = try ServiceFixtures.peft(seed: 91)
        try await ServiceHarness.with { s in
            try await s.uploadPEFT(files, name: "known")
            let response = try await s.client.send("POST", "/v1/normalize", json: body)
            try expectProblem(response, status: status, body)
            #expect(response.header("Location") == nil)
            let metrics = try await s.metrics()
            let jobs = ["queued", "running", "succeeded", "failed"].map { metrics.value("lora_squeeze_jobs", ["state": $0]) }
            #expect(jobs.allSatisfy { $0 == 0 }, "no job was recorded: \(jobs)")
            #expect(metrics.value("lora_squeeze_cache_entries") == 0)
        }
    }

    @Test("GET /v1/jobs/{id} for an unknown or malformed id is a problem")
    func unknownJob() async throws {
        try await ServiceHarness.with { s in
            let create = try await Self.create(s, "{\"all\": true, \"rank\": 4}")
            let job = try await s.waitForJob(create)
            #expect(job.state == "succeeded" && job.total == 0, "a job over an empty store has nothing to do")
            let id = String(create.dropFirst("/v1/jobs/".count))
            // Another id of the same shape: change its last character.
            let other = String(id.dropLast()) + (id.last == "0" ? "1" : "0")
            try expectProblem(try await s.get("/v1/jobs/\(other)"), status: 404, "unknown job")
            try expectProblem(try await s.get("/v1/jobs/not-a-job-id"), status: 400, "malformed job id")
        }
    }
}
