import Foundation
import Testing
import TestSupport
@testable import Service

@Suite("Jobs: bounded, retained for a while, bodies refused in plain words")
struct JobLimitsTests {
    @Test("past --max-jobs queued or running, a new job is 429 too-many-jobs with Retry-After")
    func maxJobs() async throws {
        try await ServiceHarness.with({ $0.maxJobs = 1 }) { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 821)).digest
            let gate = try await AdmissionTests.PoolGate(s.service)   // the first job cannot finish
            let first = try await NormalizeJobTests.create(s, "{\"adapters\": [\"\(digest)\"], \"rank\": 2}")
            let refused = try await s.client.send("POST", "/v1/normalize", json: "{\"adapters\": [\"\(digest)\"], \"rank\": 3}")
            let problem = try expectProblem(refused, status: 429, detailContains: ["max jobs"])
            #expect(problem.type == "/problems/too-many-jobs")
            #expect(refused.header("Retry-After") == "30")
            await gate.release()
            #expect(try await s.waitForJob(first).state == "succeeded")
            _ = try await NormalizeJobTests.create(s, "{\"adapters\": [\"\(digest)\"], \"rank\": 3}")
        }
    }

    @Test("finished jobs are deleted after the retention; the job's adapters' outcomes were rows, with content URLs")
    func retention() async throws {
        // The upkeep loop would sweep on its own first tick; here the test sweeps when it is ready.
        try await ServiceHarness.with({ $0.jobRetention = .zero; $0.maintenanceInterval = .seconds(3600) }) { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 822)).digest
            let location = try await NormalizeJobTests.create(s, "{\"adapters\": [\"\(digest)\"], \"rank\": 2}")
            #expect(try await s.waitForJob(location).state == "succeeded")
            let body = try await s.get(location).text
            #expect(body.contains("\"blobs\":{\"adapter_config.json\":\"/v1/blobs/"))
            try await Task.sleep(for: .milliseconds(20))
            await s.service.sweepJobs()
            #expect(try await s.get(location).status == 404)
            #expect(try await s.metrics().value("lora_squeeze_jobs_deleted_total") == 1)
        }
    }

    @Test("bodies: null refused by name, unknown fields ignored, no Swift text in any detail", arguments: [
        ("{\"adapters\": [\"x\"], \"rank\": 16, \"seed\": null}", "\"seed\" must not be null"),
        ("{\"adapters\": null, \"all\": true, \"rank\": 16}", "\"adapters\" must not be null"),
        ("{\"adapters\": [\"x\"]}", "\"rank\" is required"),
        ("{\"adapters\": [\"x\"], \"rank\": \"16\"}", "\"rank\" must be an integer"),
        ("{\"adapters\": [1], \"rank\": 16}", "\"adapters[0]\" must be a string"),
        ("{\"adapters\": [\"x\"], \"rank\": 16, \"seed\": 99999999999999999999999}", "out of range"),
        ("not json", "the body is not valid JSON at offset 0"),
        ("{\"rank\": 16, \"rank\": 8, \"all\": true}", "has the key \"rank\" twice"),
    ])
    func bodies(_ json: String, _ detail: String) async throws {
        try await ServiceHarness.with { s in
            let response = try await s.client.send("POST", "/v1/normalize", json: json)
            let problem = try expectProblem(response, status: 400, detailContains: [detail])
            #expect(problem.type == "/problems/invalid-body")
            for swift in ["DecodingError", "CodingKeys", "Swift.", "Debug description"] {
                #expect(!problem.detail.contains(swift), "\(problem.detail)")
            }
        }
    }

    @Test("an unknown field, even one named like an internal one, is ignored")
    func unknownFields() async throws {
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 823)).digest
            let location = try await NormalizeJobTests.create(s, "{\"adapters\": [\"\(digest)\"], \"rank\": 2, \"digests\": \"x\", \"note\": {}}")
            #expect(try await s.waitForJob(location).state == "succeeded")
        }
    }
}
