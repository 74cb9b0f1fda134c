import AdapterFormats
import Foundation
import Testing
import TestSupport

@Suite("A restart on the same data directory keeps adapters, names, squeezes and jobs")
struct RestartTests {
    @Test("after a restart everything is still there and a squeezed file downloads with the same ETag, from the cache")
    func restartKeepsEverything() async throws {
        let a = try ServiceFixtures.peft(seed: 101)
        let k = try ServiceFixtures.kohya(seed: 102)
        let directory = AdapterFixture.temporaryDirectory("service-restart")
        defer { try? FileManager.default.removeItem(at: directory) }

        var s = try await ServiceHarness.start(ServiceHarness.configuration(directory: directory))
        do {
            let da = try await s.uploadPEFT(a, name: "kept").digest
            let dk = try await s.uploadKohya(k).digest
            let squeezedURL = "/v1/adapters/\(da)/squeezed/4/adapter_model.safetensors"
            let squeezed = try await s.get(squeezedURL)
            try #require(squeezed.status == 200)
            let etag = try #require(squeezed.header("ETag"))
            let location = try await NormalizeJobTests.create(s, "{\"all\": true, \"rank\": 2}")
            let job = try await s.waitForJob(location)
            #expect(job.state == "succeeded")
            let listBefore = try await s.list()
            let describedBefore = try await s.get("/v1/adapters/kept")
            let blobsBefore = s.blobFiles()

            s = try await ServiceHarness.restart(s)

            let listAfter = try await s.list()
            #expect(listAfter.total == 2 && listAfter.items.map(\.digest) == listBefore.items.map(\.digest))
            let describedAfter = try await s.get("/v1/adapters/kept")
            #expect(describedAfter.status == 200 && describedAfter.body == describedBefore.body, "same description, names and created time")
            #expect(try await s.get("/v1/adapters/\(dk)/files/adapter_model.safetensors").body == k)
            #expect(try await s.get("/v1/adapters/kept/files/adapter_model.safetensors").body == a.weights)
            #expect(s.blobFiles() == blobsBefore, "no blob lost or orphaned by the restart")

            let again = try await s.get(squeezedURL)
            #expect(again.status == 200 && again.header("ETag") == etag && again.body == squeezed.body)
            #expect(try await s.get(squeezedURL, headers: [("If-None-Match", etag)]).status == 304, "a client's cached copy stays valid")

            let jobAfter = try await s.get(location)
            #expect(jobAfter.status == 200)
            let reloaded = try jobAfter.decode(JobJSON.self)
            #expect(reloaded.state == "succeeded" && reloaded.done == 2 && reloaded.total == 2)
            #expect(reloaded.adapters == job.adapters)
            try await NormalizeJobTests.expectDownloadable(s, reloaded, formats: [da: "peft", dk: "kohya"])

            // Everything above was served from the stored cache: nothing was squeezed in this process.
            let metrics = try await s.metrics()
            #expect(metrics.value("lora_squeeze_squeezed_modules_total") == 0)
            #expect(metrics.value("lora_squeeze_cache_misses_total") == 0)
            #expect(metrics.value("lora_squeeze_adapters") == 2)
            #expect(metrics.value("lora_squeeze_jobs", ["state": "succeeded"]) == 1)
            await s.service.stop()
        } catch {
            await s.service.stop()
            throw error
        }
    }

    @Test("a job stopped part-way by a shutdown finishes after the restart, every adapter done")
    func interruptedJobResumes() async throws {
        let uploads = try (111...114).map { try ServiceFixtures.peft(seed: UInt64($0), modules: ModelFamilies.gemma3(layers: 1, rank: 8)) }
        let directory = AdapterFixture.temporaryDirectory("service-resume")
        defer { try? FileManager.default.removeItem(at: directory) }

        var s = try await ServiceHarness.start(ServiceHarness.configuration(directory: directory))
        do {
            var formats: [String: String] = [:]
            for u in uploads { formats[try await s.uploadPEFT(u).digest] = "peft" }
            let location = try await NormalizeJobTests.create(s, "{\"all\": true, \"rank\": 4}")
            // Stop at once: the job is queued or part-way through (which one depends on timing; both must resume).
            s = try await ServiceHarness.restart(s)
            let job = try await s.waitForJob(location)
            #expect(job.total == uploads.count)
            try await NormalizeJobTests.expectDownloadable(s, job, formats: formats)
            await s.service.stop()
        } catch {
            await s.service.stop()
            throw error
        }
    }
}
