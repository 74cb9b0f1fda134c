import Foundation
import Testing
import TestSupport

@Suite("Pinned squeezes")
struct PinTests {
    @Test("a pinned squeeze survives eviction; unpinned it goes; unknown entries are 404")
    func pinSurvivesEviction() async throws {
        let files = try ServiceFixtures.peft(seed: 141)
        try await ServiceHarness.with({ $0.limits.cacheBudgetBytes = 100; $0.limits.maxPinnedBytes = 1 << 30 }) { s in
            let digest = try await s.uploadPEFT(files).digest
            let pinURL = "/v1/adapters/\(digest)/squeezed/2/pin"
            #expect(try await s.client.request("DELETE", pinURL).status == 404, "nothing cached yet")

            let pinned = try await s.client.request("PUT", pinURL)
            try #require(pinned.status == 200, "\(pinned.text)")
            let entry = try pinned.jsonObject()
            #expect(entry["pinned"] as? Bool == true && entry["rank"] as? Int == 2)

            // Another rank over the 100-byte budget: the pinned rank 2 stays, the new one is served once.
            #expect(try await s.get("/v1/adapters/\(digest)/squeezed/6/adapter_model.safetensors").status == 200)
            var m = try await s.metrics()
            #expect(m.value("lora_squeeze_cache_entries") >= 1)
            let before = m.value("lora_squeeze_squeezed_modules_total")
            #expect(try await s.get("/v1/adapters/\(digest)/squeezed/2/adapter_model.safetensors").status == 200)
            m = try await s.metrics()
            #expect(m.value("lora_squeeze_squeezed_modules_total") == before, "rank 2 was pinned: served from the cache")

            let unpinned = try await s.client.request("DELETE", pinURL)
            try #require(unpinned.status == 200, "\(unpinned.text)")
            #expect(try unpinned.jsonObject()["pinned"] as? Bool == false)
            // The next squeeze trims the cache and rank 2, unpinned and least recently used, goes.
            #expect(try await s.get("/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors").status == 200)
            #expect(try await s.client.request("DELETE", pinURL).status == 404)
        }
    }
}
