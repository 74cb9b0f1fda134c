import AdapterFormats
import Foundation
import Service
import Testing
import TestSupport

@Suite("The squeeze cache under concurrency and a small budget, and the metrics that report it")
struct CacheAndMetricsTests {
    @Test("six concurrent identical squeeze requests compute once and get the same bytes")
    func concurrentRequestsComputeOnce() async throws {
        // Larger than the other fixtures (7 modules up to 160×80, rank 16) so a squeeze takes long enough
        // for the six requests to overlap it.
        let modules = ModelFamilies.gemma3(layers: 1, rank: 16)
        let files = try ServiceFixtures.peft(seed: 121, modules: modules, rank: 16, alpha: 32)
        // All six come from 127.0.0.1: let one client wait on six (the per-client bound has its own test).
        try await ServiceHarness.with({ $0.limits.maxClientSqueezes = 6 }) { s in
            let digest = try await s.uploadPEFT(files).digest
            let url = "/v1/adapters/\(digest)/squeezed/8/adapter_model.safetensors"
            let before = try await s.metrics()
            let client = s.client
            // Six threads released together by one semaphore, so the requests arrive at once.
            let start = DispatchSemaphore(value: 0)
            let responses = try await withThrowingTaskGroup(of: HTTPTestResponse.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        try await HTTPTestClient.onThread {
                            start.wait()
                            return try client.requestBlocking("GET", url)
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(50))  // let the six threads reach the semaphore
                for _ in 0..<6 { start.signal() }
                return try await group.reduce(into: [HTTPTestResponse]()) { $0.append($1) }
            }
            #expect(responses.count == 6)
            #expect(responses.allSatisfy { $0.status == 200 }, "\(responses.map(\.status))")
            #expect(Set(responses.map(\.body)).count == 1, "every request got the same bytes")
            #expect(Set(responses.compactMap { $0.header("ETag") }).count == 1)

            let after = try await s.metrics()
            let squeezed = after.value("lora_squeeze_squeezed_modules_total") - before.value("lora_squeeze_squeezed_modules_total")
            #expect(squeezed == Double(modules.count), "one squeeze of \(modules.count) modules, not \(squeezed / Double(modules.count))")
            #expect(after.value("lora_squeeze_cache_entries") == 1)
            #expect(after.value("lora_squeeze_squeeze_duration_seconds_count") == 1)
            // Every request is counted as a hit or a miss, at least one missed, and no request more than
            // twice (a caller that computes rechecks the cache inside the flight).
            let misses = after.value("lora_squeeze_cache_misses_total") - before.value("lora_squeeze_cache_misses_total")
            let hits = after.value("lora_squeeze_cache_hits_total") - before.value("lora_squeeze_cache_hits_total")
            #expect(misses >= 1, "misses \(misses)")
            #expect(hits + misses >= 6 && hits + misses <= 12, "hits \(hits), misses \(misses)")
        }
    }

    @Test("a budget of about one squeezed output: a second rank evicts the first, which is then recomputed")
    func evictionUnderSmallBudget() async throws {
        let files = try ServiceFixtures.peft(seed: 131)
        // Calibrate: the bytes of the two squeezes (config + weights), from a service with room for both.
        let sizes = try await ServiceHarness.with { s -> [Int64] in
            let digest = try await s.uploadPEFT(files).digest
            var sizes: [Int64] = []
            for rank in [2, 6] {
                let base = "/v1/adapters/\(digest)/squeezed/\(rank)"
                let config = try await s.get(base + "/adapter_config.json").body.count
                let weights = try await s.get(base + "/adapter_model.safetensors").body.count
                sizes.append(Int64(config + weights))
            }
            #expect(try await s.metrics().value("lora_squeeze_cache_bytes") == Double(sizes.reduce(0, +)))
            return sizes
        }
        // Room for either one (the larger plus a little), not both.
        let budget = sizes.max()! + 64
        try #require(budget < sizes.reduce(0, +))

        try await ServiceHarness.with({ $0.limits.cacheBudgetBytes = budget }) { s in
            let digest = try await s.uploadPEFT(files).digest
            let low = "/v1/adapters/\(digest)/squeezed/2/adapter_model.safetensors"
            let high = "/v1/adapters/\(digest)/squeezed/6/adapter_model.safetensors"
            let first = try await s.get(low)
            try #require(first.status == 200)
            var m = try await s.metrics()
            #expect(m.value("lora_squeeze_cache_evictions_total") == 0 && m.value("lora_squeeze_cache_entries") == 1)
            let blobsWithLow = s.blobFiles()

            #expect(try await s.get(high).status == 200)
            m = try await s.metrics()
            #expect(m.value("lora_squeeze_cache_evictions_total") == 1, "rank 2 made way for rank 6")
            #expect(m.value("lora_squeeze_cache_entries") == 1)
            #expect(m.value("lora_squeeze_cache_bytes") <= Double(budget))
            #expect(!s.blobFiles().isSuperset(of: blobsWithLow), "the evicted output's blobs are deleted")
            let squeezedSoFar = m.value("lora_squeeze_squeezed_modules_total")

            // Rank 2 again: a miss, computed anew (the same bytes), and rank 6 goes in turn.
            let again = try await s.get(low)
            #expect(again.status == 200 && again.body == first.body && again.header("ETag") == first.header("ETag"))
            m = try await s.metrics()
            #expect(m.value("lora_squeeze_squeezed_modules_total") == squeezedSoFar + Double(ServiceFixtures.modules.count))
            #expect(m.value("lora_squeeze_cache_evictions_total") == 2)
            #expect(m.value("lora_squeeze_cache_entries") == 1)
        }
    }

    @Test("an output larger than the whole budget is still served to the request that computed it")
    func outputLargerThanBudget() async throws {
        // The squeeze is inserted, then the cache is trimmed to its budget; the new entry alone exceeds
        // it, so that trim deletes its blobs before the handler opens them (today: 500 "corrupt-blob …
        // run a scrub" for the files, 500 for the tar, 422 naming a server path for delta?rank=).
        let files = try ServiceFixtures.peft(seed: 135)
        let source = try files.adapter()
        try await ServiceHarness.with({ $0.limits.cacheBudgetBytes = 100 }) { s in
            let digest = try await s.uploadPEFT(files).digest
            let base = "/v1/adapters/\(digest)/squeezed/4"
            let config = try await s.get(base + "/adapter_config.json")
            let weights = try await s.get(base + "/adapter_model.safetensors")
            #expect(config.status == 200, "\(config.text.prefix(300))")
            #expect(weights.status == 200, "\(weights.text.prefix(300))")
            if config.status == 200, weights.status == 200 {
                let written = try LoRAAdapter.peft(config: try PEFTConfig(json: Data(config.body)), weights: try SafetensorsFile(bytes: weights.body))
                try ServedCheck.squeezed(written, source: source, rank: 4, dtype: .f32)
            }
            let tar = try await s.get(base + ".tar")
            #expect(tar.status == 200, "\(tar.text.prefix(300))")
            let delta = try await s.get("/v1/adapters/\(digest)/delta.safetensors?rank=4")
            #expect(delta.status == 200, "\(delta.text.prefix(300))")
            #expect(!delta.text.contains(s.directory.path), "a problem must not reveal server paths")
        }
    }

    @Test("metrics move: requests by route and status, uploads, cache hits, stored adapters, open connections")
    func metricsMove() async throws {
        let a = try ServiceFixtures.peft(seed: 141)
        let b = try ServiceFixtures.peft(seed: 142)
        try await ServiceHarness.with { s in
            let empty = try await s.metrics()
            #expect(empty.value("lora_squeeze_adapters") == 0)
            #expect(empty.has("lora_squeeze_open_connections"))
            #expect(empty.value("lora_squeeze_replica_info", ["replica": ServiceConfiguration.defaultReplicaID, "catalog": "sqlite"]) == 1)
            #expect(empty.value("lora_squeeze_http_requests_total", ["route": "/v1/adapters", "method": "POST", "status": "201"]) == 0)

            let da = try await s.uploadPEFT(a).digest
            try await s.uploadPEFT(b)
            try await s.uploadPEFT(a, expecting: 200)
            _ = try await s.upload(contentType: "text/plain", body: Array("no".utf8))
            var m = try await s.metrics()
            #expect(m.value("lora_squeeze_http_requests_total", ["route": "/v1/adapters", "method": "POST", "status": "201"]) == 2)
            #expect(m.value("lora_squeeze_http_requests_total", ["route": "/v1/adapters", "method": "POST", "status": "200"]) == 1)
            #expect(m.value("lora_squeeze_http_requests_total", ["route": "/v1/adapters", "method": "POST", "status": "415"]) == 1)
            #expect(m.value("lora_squeeze_http_request_duration_seconds_count", ["route": "/v1/adapters"]) == 4)
            #expect(m.value("lora_squeeze_uploads_total") == 3)
            #expect(m.value("lora_squeeze_upload_bytes_total") == Double(2 * a.weights.count + b.weights.count))
            #expect(m.value("lora_squeeze_http_request_bytes_total", ["route": "/v1/adapters"]) > Double(a.weights.count))
            #expect(m.value("lora_squeeze_adapters") == 2)
            #expect(m.value("lora_squeeze_adapter_bytes") > 0)
            // This scrape's own connection is open while the gauge is sampled.
            #expect(m.value("lora_squeeze_open_connections") >= 1)

            let url = "/v1/adapters/\(da)/squeezed/4/adapter_model.safetensors"
            let beforeMiss = try await s.metrics()
            #expect(try await s.get(url).status == 200)
            let afterMiss = try await s.metrics()
            // One cold request is one miss. (AdapterService.squeezed looks the key up again inside the
            // single-flight, and AdapterCatalog.cacheLookup counts that recheck as a second miss.)
            #expect(afterMiss.value("lora_squeeze_cache_misses_total") == beforeMiss.value("lora_squeeze_cache_misses_total") + 1,
                    "misses \(beforeMiss.value("lora_squeeze_cache_misses_total")) → \(afterMiss.value("lora_squeeze_cache_misses_total"))")
            #expect(afterMiss.value("lora_squeeze_cache_hits_total") == beforeMiss.value("lora_squeeze_cache_hits_total"))
            #expect(try await s.get(url).status == 200)
            m = try await s.metrics()
            #expect(m.value("lora_squeeze_cache_hits_total") == afterMiss.value("lora_squeeze_cache_hits_total") + 1)
            #expect(m.value("lora_squeeze_cache_misses_total") == afterMiss.value("lora_squeeze_cache_misses_total"))
            let route = "/v1/adapters/:ref/squeezed/:rank/:file"
            #expect(m.value("lora_squeeze_http_requests_total", ["route": route, "method": "GET", "status": "200"]) == 2)
            #expect(m.value("lora_squeeze_http_response_bytes_total", ["route": route]) > 0)
            #expect(m.value("lora_squeeze_squeeze_duration_seconds_count") == 1)
            #expect(m.value("lora_squeeze_cache_bytes") > 0)

            #expect(try await s.client.request("DELETE", "/v1/adapters/\(da)").status == 200)
            m = try await s.metrics()
            #expect(m.value("lora_squeeze_adapters") == 1)
            #expect(m.value("lora_squeeze_cache_entries") == 0, "deleting an adapter drops its squeezes")
            #expect(m.value("lora_squeeze_http_requests_total", ["route": "/metrics", "method": "GET", "status": "200"]) >= 4)
        }
    }

    @Test("healthz and readyz answer; readyz turns 503 while draining")
    func health() async throws {
        try await ServiceHarness.with { s in
            let health = try await s.get("/healthz")
            #expect(health.status == 200 && health.text.contains("ok"))
            let ready = try await s.get("/readyz")
            #expect(ready.status == 200 && ready.text.contains("ready"))
            s.service.beginDraining()
            let draining = try await s.get("/readyz")
            #expect(draining.status == 503 && draining.text.contains("draining"))
        }
    }
}
