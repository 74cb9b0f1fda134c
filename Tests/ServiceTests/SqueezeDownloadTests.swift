import AdapterFormats
import Foundation
import Store
import Testing
import TestSupport

@Suite("Squeezed downloads, checked against a dense SVD of the uploaded adapter")
struct SqueezeDownloadTests {
    /// The squeezed adapter behind `base` (…/squeezed/{R}) read back from its two downloaded files.
    static func download(_ s: RunningService, _ base: String, query: String = "") async throws
        -> (adapter: LoRAAdapter, config: HTTPTestResponse, weights: HTTPTestResponse) {
        let config = try await s.get(base + "/adapter_config.json" + query)
        try #require(config.status == 200, "\(base) config: \(config.status) \(config.text)")
        let weights = try await s.get(base + "/adapter_model.safetensors" + query)
        try #require(weights.status == 200, "\(base) weights: \(weights.status) \(weights.text)")
        let adapter = try LoRAAdapter.peft(config: try PEFTConfig(json: Data(config.body)),
                                           weights: try SafetensorsFile(bytes: weights.body))
        return (adapter, config, weights)
    }

    /// `"<sha-256 of bytes>"`: what a blob's ETag must be.
    static func quotedDigest(_ bytes: [UInt8]) throws -> String { "\"\(try SHA256.hash(bytes).hex)\"" }

    @Test("mixed ranks and scales: every module at exactly R, r = lora_alpha = R, B'·A' the best rank-R approximation of s·B·A")
    func squeezedPEFT() async throws {
        // r 8, 4, 12 and an r 8 embedding, scales 2, 2, 0.5, 2; at R = 6 one module is padded, three truncated.
        let files = try ServiceFixtures.mixed(seed: 51)
        let source = try files.adapter()
        try #require(Set(source.modules.map(\.rank)) == [4, 8, 12] && Set(source.modules.map(\.scale)) == [0.5, 2])
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files).digest
            let (written, config, weights) = try await Self.download(s, "/v1/adapters/\(digest)/squeezed/6")
            let fields = try ServiceFixtures.fields(config.body)
            #expect(fields["r"]?.intValue == 6 && fields["lora_alpha"]?.doubleValue == 6, "r \(String(describing: fields["r"])), alpha \(String(describing: fields["lora_alpha"]))")
            // Patterns left in place would give modules other ranks and scales when PEFT or vLLM loads them.
            #expect((fields["rank_pattern"]?.objectValue ?? [:]).isEmpty && (fields["alpha_pattern"]?.objectValue ?? [:]).isEmpty,
                    "rank_pattern \(String(describing: fields["rank_pattern"])), alpha_pattern \(String(describing: fields["alpha_pattern"]))")
            #expect(fields["base_model_name_or_path"]?.stringValue == "fixture/model", "the rest of the config is kept")
            #expect(config.header("Content-Type") == "application/json")
            #expect(weights.header("Content-Type") == "application/octet-stream")
            try ServedCheck.squeezed(written, source: source, rank: 6, dtype: .f32)
            for m in written.modules {
                let marker = m.kind == .embedding ? ".lora_embedding_A" : ".lora_A.weight"
                #expect(m.aTensor.name == LoRAAdapter.peftPrefix + m.name + marker, "\(m.aTensor.name)")
                #expect(m.aTensor.shape == [6, m.inFeatures] && m.bTensor.shape == [m.outFeatures, 6], "\(m.name)")
            }
            // Content-addressed: the ETag is the SHA-256 of the bytes served.
            #expect(weights.header("ETag") == (try Self.quotedDigest(weights.body)))
            #expect(config.header("ETag") == (try Self.quotedDigest(config.body)))
            #expect(weights.header("Content-Length") == String(weights.body.count))
        }
    }

    @Test("a rank above a module's own rank pads it with zeros: R = 12 over r = 8 keeps the whole update")
    func paddedAboveSourceRank() async throws {
        let files = try ServiceFixtures.peft(seed: 52)
        let source = try files.adapter()
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files).digest
            let (written, config, _) = try await Self.download(s, "/v1/adapters/\(digest)/squeezed/12")
            #expect(try ServiceFixtures.fields(config.body)["r"]?.intValue == 12)
            // kept = min(12, 8, out, in) = 8: B'A' must equal s·B·A itself.
            try ServedCheck.squeezed(written, source: source, rank: 12, dtype: .f32)
        }
    }

    @Test(".tar holds both files, identical to the separate downloads; it honours Range and If-None-Match")
    func tarArchive() async throws {
        let files = try ServiceFixtures.peft(seed: 53)
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files).digest
            let base = "/v1/adapters/\(digest)/squeezed/4"
            let tar = try await s.get(base + ".tar")
            try #require(tar.status == 200, "\(tar.text)")
            #expect(tar.header("Content-Type") == "application/x-tar")
            let (_, config, weights) = try await Self.download(s, base)
            #expect(tar.body.count == TarWriter.archiveSize(fileSizes: [config.body.count, weights.body.count]))

            var reader = TarReader()
            var entries: [(name: String, bytes: [UInt8])] = []
            for event in try reader.feed(tar.body) + (try reader.finish()) {
                switch event {
                case let .entryBegin(entry):
                    #expect(entry.kind == .file)
                    entries.append((entry.path, []))
                case let .entryData(bytes): entries[entries.count - 1].bytes += bytes
                case .entryEnd: break
                }
            }
            #expect(entries.map(\.name) == [PEFTFiles.config, PEFTFiles.weights])
            #expect(entries.first { $0.name == PEFTFiles.config }?.bytes == config.body)
            #expect(entries.first { $0.name == PEFTFiles.weights }?.bytes == weights.body)

            #expect(tar.header("Cache-Control") == "no-cache")
            let etag = try #require(tar.header("ETag"))
            let notModified = try await s.get(base + ".tar", headers: [("If-None-Match", etag)])
            #expect(notModified.status == 304 && notModified.body.isEmpty)
            let part = try await s.get(base + ".tar", headers: [("Range", "bytes=512-1023")])
            #expect(part.status == 206)
            #expect(part.header("Content-Range") == "bytes 512-1023/\(tar.body.count)")
            #expect(part.body == Array(tar.body[512..<1024]))
        }
    }

    @Test("Range gives 206 with the right bytes; If-None-Match gives 304; squeezes revalidate, their blob URL is immutable")
    func rangesAndValidators() async throws {
        let files = try ServiceFixtures.peft(seed: 54)
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files, name: "ranged").digest
            let byDigest = "/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors"
            let byName = "/v1/adapters/ranged/squeezed/4/adapter_model.safetensors"
            let whole = try await s.get(byDigest)
            try #require(whole.status == 200)
            let size = whole.body.count
            let etag = try #require(whole.header("ETag"))
            #expect(whole.header("Accept-Ranges") == "bytes")
            // A squeeze is named by adapter and parameters, not by content (a recompute after eviction
            // may differ in the last bits): it revalidates, and names its content-addressed URL.
            #expect(whole.header("Cache-Control") == "no-cache")
            #expect(etag == (try SqueezeDownloadTests.quotedDigest(whole.body)), "the ETag is the content's SHA-256")
            let location = try #require(whole.header("Content-Location"))
            #expect(location == "/v1/blobs/" + etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
            let blob = try await s.get(location)
            #expect(blob.status == 200 && blob.body == whole.body && blob.header("ETag") == etag)
            #expect(blob.header("Cache-Control") == "public, max-age=31536000, immutable")
            #expect(try await s.get(location, headers: [("Range", "bytes=0-3")]).body == Array(whole.body[0..<4]))
            #expect(try await s.get("/v1/blobs/" + String(repeating: "0", count: 64)).status == 404)
            #expect(try await s.get("/v1/blobs/not-a-digest").status == 400)

            let middle = try await s.get(byDigest, headers: [("Range", "bytes=10-49")])
            #expect(middle.status == 206)
            #expect(middle.header("Content-Range") == "bytes 10-49/\(size)")
            #expect(middle.body == Array(whole.body[10..<50]))
            let suffix = try await s.get(byDigest, headers: [("Range", "bytes=-16")])
            #expect(suffix.status == 206 && suffix.body == Array(whole.body[(size - 16)...]))
            #expect(suffix.header("Content-Range") == "bytes \(size - 16)-\(size - 1)/\(size)")
            let open = try await s.get(byDigest, headers: [("Range", "bytes=\(size - 5)-")])
            #expect(open.status == 206 && open.body == Array(whole.body[(size - 5)...]))
            let outside = try await s.get(byDigest, headers: [("Range", "bytes=\(size)-")])
            #expect(outside.status == 416 && outside.header("Content-Range") == "bytes */\(size)")
            // If-Range with another validator: the whole file (RFC 9110 §13.1.5).
            let stale = try await s.get(byDigest, headers: [("Range", "bytes=0-9"), ("If-Range", "\"not-it\"")])
            #expect(stale.status == 200 && stale.body == whole.body)

            let notModified = try await s.get(byDigest, headers: [("If-None-Match", etag)])
            #expect(notModified.status == 304 && notModified.body.isEmpty && notModified.header("ETag") == etag)
            let changed = try await s.get(byDigest, headers: [("If-None-Match", "\"something-else\"")])
            #expect(changed.status == 200 && changed.body == whole.body)

            let named = try await s.get(byName)
            #expect(named.status == 200 && named.body == whole.body)
            #expect(named.header("ETag") == etag, "same bytes, same validator")
            #expect(named.header("Cache-Control") == "no-cache", "a name can move: revalidate")
            #expect(try await s.get(byName, headers: [("If-None-Match", etag)]).status == 304)

            // The original files honour the same rules.
            let original = "/v1/adapters/\(digest)/files/adapter_model.safetensors"
            let head = try await s.get(original, headers: [("Range", "bytes=0-7")])
            #expect(head.status == 206 && head.body == Array(files.weights[0..<8]))
            let originalETag = try #require(head.header("ETag"))
            #expect(originalETag == (try SqueezeDownloadTests.quotedDigest(files.weights)))
            #expect(try await s.get(original, headers: [("If-None-Match", originalETag)]).status == 304)
        }
    }

    @Test("dtype=bf16 and method=rsvd are separate cache entries, each the right squeeze")
    func optionsAreSeparateEntries() async throws {
        let files = try ServiceFixtures.peft(seed: 55)
        let source = try files.adapter()
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files).digest
            let base = "/v1/adapters/\(digest)/squeezed/4"
            let before = try await s.metrics()
            let plain = try await Self.download(s, base)
            let bf16 = try await Self.download(s, base, query: "?dtype=bf16")
            let rsvd = try await Self.download(s, base, query: "?method=rsvd")
            let after = try await s.metrics()

            #expect(after.value("lora_squeeze_cache_entries") == before.value("lora_squeeze_cache_entries") + 3)
            #expect(after.value("lora_squeeze_squeezed_modules_total") - before.value("lora_squeeze_squeezed_modules_total")
                    == Double(3 * ServiceFixtures.modules.count), "three squeezes of four modules")
            let etags = [plain.weights, bf16.weights, rsvd.weights].compactMap { $0.header("ETag") }
            #expect(Set(etags).count == 3, "three different outputs: \(etags)")

            try ServedCheck.squeezed(plain.adapter, source: source, rank: 4, dtype: .f32)
            try ServedCheck.squeezed(bf16.adapter, source: source, rank: 4, dtype: .bf16)
            // rsvd: its sketch (R + oversample 10 = 14 columns) spans these rank-8 updates entirely, so it
            // lands within the randomized-SVD check tolerance of the engine's own tests (1e-4).
            try ServedCheck.squeezed(rsvd.adapter, source: source, rank: 4, dtype: .f32, tolerance: 1e-4)

            // energy=0.7: each module keeps the fewest directions holding 70 % of its energy (at most R),
            // zero-padded to R.
            let energy = try await Self.download(s, base, query: "?energy=0.7")
            var kept: [String: Int] = [:]
            for m in source.modules { kept[m.name] = min(4, try DenseUpdate(adapter: source, module: m).rank(forEnergy: 0.7)) }
            #expect(Set(kept.values) != [4], "the fixture's spectra make energy=0.7 keep fewer than R somewhere: \(kept)")
            try ServedCheck.squeezed(energy.adapter, source: source, rank: 4, dtype: .f32, kept: kept)

            // The same request again is a hit and computes nothing.
            let again = try await s.get(base + "/adapter_model.safetensors?dtype=bf16")
            #expect(again.body == bf16.weights.body)
            let last = try await s.metrics()
            #expect(last.value("lora_squeeze_cache_hits_total") > after.value("lora_squeeze_cache_hits_total"))
            #expect(last.value("lora_squeeze_squeezed_modules_total") == after.value("lora_squeeze_squeezed_modules_total")
                    + Double(ServiceFixtures.modules.count), "only the energy squeeze was computed since")
            #expect(last.value("lora_squeeze_cache_entries") == after.value("lora_squeeze_cache_entries") + 1)
        }
    }

    @Test("a kohya adapter squeezes to one kohya file (alpha = R), conv shapes kept; it has no config")
    func squeezedKohya() async throws {
        let kohya = try ServiceFixtures.kohya(seed: 56)
        let source = try LoRAAdapter.kohya(weights: try SafetensorsFile(bytes: kohya))
        try await ServiceHarness.with { s in
            let digest = try await s.uploadKohya(kohya).digest
            let base = "/v1/adapters/\(digest)/squeezed/4"
            let weights = try await s.get(base + "/adapter_model.safetensors")
            try #require(weights.status == 200, "\(weights.text)")
            let written = try LoRAAdapter.kohya(weights: try SafetensorsFile(bytes: weights.body))
            // The fixture is F16; the output keeps the input dtype.
            try ServedCheck.squeezed(written, source: source, rank: 4, dtype: .f16)
            let conv = try #require(written.modules.first { $0.kind == .conv })
            #expect(conv.aTensor.shape == [4, 8, 3, 3] && conv.bTensor.shape == [24, 4, 1, 1])
            try expectProblem(try await s.get(base + "/adapter_config.json"), status: 404, detailContains: ["kohya"], "kohya config")

            let tar = try await s.get(base + ".tar")
            try #require(tar.status == 200)
            var reader = TarReader()
            let names = (try reader.feed(tar.body) + (try reader.finish())).compactMap { event -> String? in
                if case let .entryBegin(entry) = event { entry.path } else { nil }
            }
            #expect(names == [PEFTFiles.weights])
        }
    }
}
