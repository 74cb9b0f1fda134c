import Foundation
import Testing
import TestSupport

@Suite("Cache keys")
struct CacheKeyTests {
    @Test("asking for the dtype the adapter already has is the default: one entry, one computation")
    func inputDtypeIsDefault() async throws {
        let files = try ServiceFixtures.peft(seed: 151)   // f32 factors
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files).digest
            let base = "/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors"
            let plain = try await s.get(base)
            try #require(plain.status == 200)
            let before = try await s.metrics().value("lora_squeeze_squeezed_modules_total")
            let explicit = try await s.get(base + "?dtype=f32")
            #expect(explicit.status == 200 && explicit.header("ETag") == plain.header("ETag") && explicit.body == plain.body)
            #expect(try await s.metrics().value("lora_squeeze_squeezed_modules_total") == before)
            // A different dtype is a different entry, computed anew.
            let bf16 = try await s.get(base + "?dtype=bf16")
            #expect(bf16.status == 200 && bf16.header("ETag") != plain.header("ETag"))
            #expect(try await s.metrics().value("lora_squeeze_squeezed_modules_total") > before)
        }
    }
}
