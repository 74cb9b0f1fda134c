import AdapterFormats
import Foundation
import SqueezeEngine
import Testing
import TestSupport
@testable import Service

/// Every cost bounded before it is paid: the rank a URL may ask for, the size of what a request
/// would have computed, the work an upload's validation may take, pins. Each at its bound and one past.
@Suite("Cost bounds: rank, output size, validation work, pins")
struct CostBoundTests {
    static func url(_ digest: String, rank: Int, _ query: String = "") -> String {
        "/v1/adapters/\(digest)/squeezed/\(rank)/adapter_model.safetensors" + query
    }

    @Test("the default max rank is 512, vLLM's largest max_lora_rank; 513 is refused before anything is read")
    func defaultMaxRank() async throws {
        #expect(ServiceLimits().maxRank == 512)
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 311)).digest
            try expectProblem(try await s.get(Self.url(digest, rank: 513)), status: 400, detailContains: ["1 to 512"], "513")
            // 512 is a valid request; these modules are smaller, which is its own 422.
            try expectProblem(try await s.get(Self.url(digest, rank: 512)), status: 422, detailContains: ["above every module"], "512")
        }
    }

    /// The size the service computes for a request, read from its 422 at a tiny limit.
    static func computedSize(_ s: RunningService, _ target: String) async throws -> Int64 {
        let refused = try await s.get(target)
        let problem = try expectProblem(refused, status: 422, detailContains: ["max output"], "probe")
        let words = problem.detail.split(separator: " ")
        let index = try #require(words.firstIndex(of: "about"))
        return try #require(Int64(words[index + 1]))
    }

    @Test("max output: a squeeze whose computed size is exactly the limit is served, one byte less refused; the size bounds the file",
          arguments: [(4, "?dtype=f32"), (8, "?dtype=bf16"), (6, "")])
    func maxOutput(_ rank: Int, _ query: String) async throws {
        let files = try ServiceFixtures.mixed(seed: 312)
        var size: Int64 = 0
        try await ServiceHarness.with({ $0.limits.maxOutputBytes = 1 }) { s in
            let digest = try await s.uploadPEFT(files).digest
            size = try await Self.computedSize(s, Self.url(digest, rank: rank, query))
        }
        try await ServiceHarness.with({ $0.limits.maxOutputBytes = size }) { s in
            let digest = try await s.uploadPEFT(files).digest
            let served = try await s.get(Self.url(digest, rank: rank, query))
            #expect(served.status == 200, "at the limit: \(served.text)")
            #expect(Int64(served.body.count) <= size, "the file (\(served.body.count) bytes) is larger than the computed bound \(size)")
            #expect(Int64(served.body.count) * 2 > size, "the bound \(size) is far from the file's \(served.body.count) bytes")
        }
        try await ServiceHarness.with({ $0.limits.maxOutputBytes = size - 1 }) { s in
            let digest = try await s.uploadPEFT(files).digest
            try expectProblem(try await s.get(Self.url(digest, rank: rank, query)), status: 422,
                              detailContains: ["\(size) bytes", "\(size - 1)"], "one past")
            #expect(try await s.metrics().value("lora_squeeze_squeezed_modules_total") == 0)
        }
    }

    @Test("delta.safetensors goes through the cache: computed once, served as a file with its digest as ETag, bounded by max output")
    func deltaCached() async throws {
        let files = try ServiceFixtures.peft(seed: 313)
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files).digest
            let first = try await s.get("/v1/adapters/\(digest)/delta.safetensors?dtype=f32")
            #expect(first.status == 200)
            let etag = try #require(first.header("ETag"))
            #expect(etag.count == 66, "a blob digest: \(etag)")
            #expect(first.header("Content-Length") == String(first.body.count))
            let before = try await s.metrics()
            let second = try await s.get("/v1/adapters/\(digest)/delta.safetensors?dtype=f32")
            #expect(second.body == first.body && second.header("ETag") == etag)
            let after = try await s.metrics()
            #expect(after.value("lora_squeeze_cache_hits_total") == before.value("lora_squeeze_cache_hits_total") + 1)
            #expect(after.value("lora_squeeze_squeeze_duration_seconds_count") == before.value("lora_squeeze_squeeze_duration_seconds_count"))
            #expect(try await s.get("/v1/adapters/\(digest)/delta.safetensors?dtype=f32", headers: [("If-None-Match", etag)]).status == 304)
            let ranged = try await s.get("/v1/adapters/\(digest)/delta.safetensors?dtype=f32", headers: [("Range", "bytes=0-7")])
            #expect(ranged.status == 206 && ranged.body == Array(first.body.prefix(8)))
            // The delta file is the dense ΔW of every module: one out×in tensor each.
            let delta = try SafetensorsFile(bytes: first.body)
            #expect(delta.tensors.count == ServiceFixtures.modules.count)
        }
        try await ServiceHarness.with({ $0.limits.maxOutputBytes = 1000 }) { s in
            let digest = try await s.uploadPEFT(files).digest
            try expectProblem(try await s.get("/v1/adapters/\(digest)/delta.safetensors"), status: 422,
                              detailContains: ["dense deltas", "max output"], "a delta past the limit")
        }
    }

    @Test("the exact method's cache key ignores rsvd's seed, oversample and power iterations; auto that runs exact shares it")
    func exactKey() async throws {
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 314)).digest
            let first = try await s.get(Self.url(digest, rank: 4, "?method=exact"))
            #expect(first.status == 200)
            for query in ["?method=exact&seed=7", "?method=exact&seed=8&oversample=3&power_iters=5", "", "?method=auto&seed=99"] {
                let again = try await s.get(Self.url(digest, rank: 4, query))
                #expect(again.status == 200 && again.body == first.body, "\(query)")
            }
            let m = try await s.metrics()
            #expect(m.value("lora_squeeze_cache_entries") == 1, "one entry for five spellings of the same bytes")
            #expect(m.value("lora_squeeze_squeeze_duration_seconds_count") == 1)
            // rsvd's seed does change the bytes: its own entries.
            #expect(try await s.get(Self.url(digest, rank: 4, "?method=rsvd&seed=1")).status == 200)
            #expect(try await s.get(Self.url(digest, rank: 4, "?method=rsvd&seed=2")).status == 200)
            #expect(try await s.metrics().value("lora_squeeze_cache_entries") == 3)
        }
    }

    @Test("pins: at the cap accepted, past it 409 naming the cap, nothing changed")
    func pinnedCap() async throws {
        let files = try ServiceFixtures.peft(seed: 315)
        // Learn one squeeze's size, then allow exactly that much pinned.
        var oneSize: Int64 = 0
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files).digest
            let pinned = try await s.client.request("PUT", "/v1/adapters/\(digest)/squeezed/2/pin")
            try #require(pinned.status == 200)
            oneSize = try #require((try pinned.jsonObject()["bytes"] as? Int).map(Int64.init))
        }
        try await ServiceHarness.with({ $0.limits.maxPinnedBytes = oneSize }) { s in
            let digest = try await s.uploadPEFT(files).digest
            #expect(try await s.client.request("PUT", "/v1/adapters/\(digest)/squeezed/2/pin").status == 200)
            let refused = try await s.client.request("PUT", "/v1/adapters/\(digest)/squeezed/3/pin")
            try expectProblem(refused, status: 409, detailContains: ["\(oneSize)"], "a second pin past the cap")
            let m = try await s.metrics()
            #expect(m.value("lora_squeeze_cache_pinned_bytes") == Double(oneSize))
            #expect(try await s.client.request("DELETE", "/v1/adapters/\(digest)/squeezed/3/pin").status == 200, "rank 3 is cached, not pinned")
        }
    }

    @Test("validation work: an upload may cost at most work-per-byte × its size (or the floor); past it, 422 before any spectrum")
    func validationWork() async throws {
        // Rank 512 modules of 1×1: a few KiB of file, each module an r×r eigenproblem (≈10·r³).
        let modules = (0..<8).map { AdapterFixture.Module("model.layers.\($0).q_proj", out: 1, in: 1, rank: 512) }
        let files = try ServiceFixtures.peft(seed: 316, modules: modules, rank: 512, alpha: 512)
        let work = modules.reduce(0.0) { $0 + CostModel.spectra(out: $1.out, in: $1.inFeatures, rank: $1.rank) }
        try await ServiceHarness.with({ $0.limits.validationWorkFloor = work; $0.limits.validationWorkPerByte = 0 }) { s in
            _ = try await s.uploadPEFT(files)   // exactly at the bound
        }
        try await BadInputTests.withStore({ $0.limits.validationWorkFloor = work - 1; $0.limits.validationWorkPerByte = 0 }) { s in
            let (type, body) = UploadBody.peftMultipart(config: files.config, weights: files.weights)
            try expectProblem(try await s.upload(contentType: type, body: body), status: 422,
                              detailContains: ["validating this adapter", "8 modules", "512"], "one past")
        }
        // The defaults refuse it: 1.07e10 operations for an 8 KiB upload.
        #expect(work > ServiceLimits().validationWork(weightsBytes: files.weights.count))
    }
}

