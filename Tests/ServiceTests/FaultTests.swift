import Foundation
import Store
import Testing
import TestSupport
@testable import Service

/// Damaged bytes are never served: a blob is verified on its first read after a start on every path
/// (download, tar, squeeze, delta), and by the background scrub; a damaged one is quarantined.
@Suite("Faults: damaged blobs never served, quarantined, repaired by a re-upload")
struct FaultTests {
    /// Overwrites one byte of a stored blob, as disk damage would (the service must be stopped or the
    /// blob not yet read since its start).
    static func damage(_ s: RunningService, _ digest: String, at offset: UInt64 = 100) throws {
        let path = s.directory.appendingPathComponent("blobs/\(digest.prefix(2))/\(digest.dropFirst(2))").path
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data([byte ^ 0x5a]))
    }

    @Test("a damaged adapter file: every route answers 500 blob-damaged, the file is quarantined, a re-upload repairs it")
    func damagedAdapter() async throws {
        let files = try ServiceFixtures.peft(seed: 811)
        let directory = AdapterFixture.temporaryDirectory("service-damage")
        defer { try? FileManager.default.removeItem(at: directory) }
        var s = try await ServiceHarness.start(ServiceHarness.configuration(directory: directory))
        do {
            let digest = try await s.uploadPEFT(files, name: "fragile").digest
            let weights = try SHA256.hash(files.weights).hex
            s = try await ServiceHarness.restart(s)   // verified on the first read after a start
            await s.service.stop()
            try Self.damage(s, weights)
            s = try await ServiceHarness.start(s.configuration)

            let download = try await s.get("/v1/adapters/fragile/files/adapter_model.safetensors")
            let problem = try expectProblem(download, status: 500, detailContains: [digest, weights])
            #expect(problem.type == "/problems/blob-damaged")
            for url in ["/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors", "/v1/adapters/\(digest)/squeezed/4.tar",
                        "/v1/adapters/\(digest)/delta.safetensors", "/v1/adapters/\(digest)/files/adapter_model.safetensors"] {
                #expect(try expectProblem(try await s.get(url), status: 500, detailContains: [digest]).type == "/problems/blob-damaged")
            }
            #expect(try await s.get("/v1/blobs/\(weights)").status == 500)
            let described = try await s.get("/v1/adapters/fragile")
            #expect(described.status == 200 && described.text.contains("\"damaged\":true"))
            let quarantine = s.directory.appendingPathComponent("quarantine")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: quarantine.path)) == [weights])
            let metrics = try await s.metrics()
            #expect(metrics.value("lora_squeeze_blobs_damaged_total", ["found_by": "read"]) == 1)
            #expect(metrics.value("lora_squeeze_cache_entries") == 0, "nothing was squeezed from the damaged source")

            // The same content again: the adapter is whole, and serves its true bytes.
            #expect(try await s.uploadPEFT(files, expecting: 200).digest == digest)
            #expect(try await s.get("/v1/adapters/fragile/files/adapter_model.safetensors").body == files.weights)
            #expect(!(try await s.get("/v1/adapters/fragile").text.contains("damaged")))
            #expect(try await s.get("/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors").status == 200)
            await s.service.stop()
        } catch {
            await s.service.stop()
            throw error
        }
    }

    @Test("a damaged cached squeeze is dropped and computed again: the same bytes, never the damaged ones")
    func damagedCacheEntry() async throws {
        let files = try ServiceFixtures.peft(seed: 812)
        let directory = AdapterFixture.temporaryDirectory("service-damage-cache")
        defer { try? FileManager.default.removeItem(at: directory) }
        var s = try await ServiceHarness.start(ServiceHarness.configuration(directory: directory))
        do {
            let digest = try await s.uploadPEFT(files).digest
            let url = "/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors"
            let first = try await s.get(url)
            try #require(first.status == 200)
            let tar = try await s.get("/v1/adapters/\(digest)/squeezed/4.tar")
            let blob = try SHA256.hash(first.body).hex
            await s.service.stop()
            try Self.damage(s, blob, at: 200)
            s = try await ServiceHarness.start(s.configuration)

            let again = try await s.get(url)
            #expect(again.status == 200 && again.body == first.body, "recomputed from the intact source")
            #expect(try await s.get("/v1/adapters/\(digest)/squeezed/4.tar").body == tar.body)
            let metrics = try await s.metrics()
            #expect(metrics.value("lora_squeeze_blobs_damaged_total", ["found_by": "read"]) == 1)
            #expect(metrics.value("lora_squeeze_cache_hits_total") == 2 && metrics.value("lora_squeeze_cache_misses_total") == 1,
                    "the lookup hit, verification found the damage, the entry was dropped and the recompute missed; the tar hit")

            // The tar route verifies too.
            await s.service.stop()
            try Self.damage(s, blob, at: 300)
            s = try await ServiceHarness.start(s.configuration)
            #expect(try await s.get("/v1/adapters/\(digest)/squeezed/4.tar").body == tar.body)
            await s.service.stop()
        } catch {
            await s.service.stop()
            throw error
        }
    }

    @Test("the background scrub finds damage nobody has read, quarantines it and counts it")
    func scrub() async throws {
        try await ServiceHarness.with { s in
            let files = try ServiceFixtures.peft(seed: 813)
            let digest = try await s.uploadPEFT(files).digest
            let weights = try SHA256.hash(files.weights).hex
            try Self.damage(s, weights)
            let report = await s.service.scrub()
            #expect(report.corrupt.map(\.digest.hex) == [weights])
            #expect(report.checked == s.blobFiles().count + 1, "every blob, the quarantined one included")
            let metrics = try await s.metrics()
            #expect(metrics.value("lora_squeeze_blobs_damaged_total", ["found_by": "scrub"]) == 1)
            #expect(metrics.value("lora_squeeze_scrubs_total") == 1)
            #expect(try expectProblem(try await s.get("/v1/adapters/\(digest)/files/adapter_model.safetensors"), status: 500).type == "/problems/blob-damaged")
            #expect(await s.service.scrub().corrupt.isEmpty, "a second scrub finds nothing more")
        }
    }

    @Test("HEAD of a squeeze computes nothing: 200 without length or ETag until a GET computes it, then the GET's headers")
    func headComputesNothing() async throws {
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 814)).digest
            for url in ["/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors", "/v1/adapters/\(digest)/squeezed/4.tar",
                        "/v1/adapters/\(digest)/delta.safetensors?rank=4"] {
                let head = try await s.client.request("HEAD", url)
                #expect(head.status == 200, "\(url)")
                #expect(head.header("Content-Length") == nil && head.header("ETag") == nil && head.header("Transfer-Encoding") == nil, "\(url)")
            }
            #expect(try await s.client.request("HEAD", "/v1/adapters/\(digest)/squeezed/500/adapter_model.safetensors").status == 422,
                    "a GET's checks still apply")
            var metrics = try await s.metrics()
            #expect(metrics.value("lora_squeeze_squeezed_modules_total") == 0 && metrics.value("lora_squeeze_cache_entries") == 0)

            let url = "/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors"
            let get = try await s.get(url)
            let head = try await s.client.request("HEAD", url)
            #expect(head.status == 200 && head.body.isEmpty)
            #expect(head.header("Content-Length") == String(get.body.count) && head.header("ETag") == get.header("ETag"))
            #expect(head.header("Content-Location") == get.header("Content-Location"))
            metrics = try await s.metrics()
            #expect(metrics.value("lora_squeeze_cache_hits_total") == 0, "a HEAD is not a use")
        }
    }

    @Test("a cached download writes nothing: its hit reaches the catalog with the upkeep loop's next flush")
    func cachedDownloadWritesNothing() async throws {
        try await ServiceHarness.with({ $0.maintenanceInterval = .seconds(3600) }) { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 815)).digest
            let url = "/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors"
            #expect(try await s.get(url).status == 200)
            await s.service.flushCacheTouches()
            let wal = s.directory.appendingPathComponent("catalog.sqlite-wal").path
            let before = try FileManager.default.attributesOfItem(atPath: wal)[.modificationDate] as? Date
            let sizeBefore = try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int
            for _ in 0..<20 { #expect(try await s.get(url).status == 200) }
            #expect(s.service.catalog.pendingCacheTouches == 1)
            #expect(try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int == sizeBefore)
            #expect(try FileManager.default.attributesOfItem(atPath: wal)[.modificationDate] as? Date == before)
            await s.service.flushCacheTouches()   // what the upkeep loop does every maintenanceInterval (1 s)
            #expect(s.service.catalog.pendingCacheTouches == 0)
            #expect(try FileManager.default.attributesOfItem(atPath: wal)[.modificationDate] as? Date != before, "one write for the twenty hits")
            #expect(try s.service.catalog.cacheEntries(for: SHA256Digest(digest)!).first?.hitCount == 20)
        }
    }

    @Test("the upkeep loop writes pending hits by itself, about once a second")
    func upkeepFlushes() async throws {
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 817)).digest
            let url = "/v1/adapters/\(digest)/squeezed/2/adapter_model.safetensors"
            #expect(try await s.get(url).status == 200)
            #expect(try await s.get(url).status == 200)
            try await AdmissionTests.eventually("the hit written by the upkeep loop") { s.service.catalog.pendingCacheTouches == 0 }
            #expect(try s.service.catalog.cacheEntries(for: SHA256Digest(digest)!).first?.hitCount == 1)
        }
    }

    @Test("a squeeze of an adapter deleted while it waited is a 404, not a storage fault")
    func deletedWhileWaiting() async throws {
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 816)).digest
            let record = try #require(try s.service.catalog.adapter(SHA256Digest(digest)!))
            #expect(try await s.client.request("DELETE", "/v1/adapters/\(digest)").status == 200)
            do {
                _ = try await s.service.squeezed(record, SqueezeRequest(rank: 2), client: nil)
                Issue.record("the squeeze of a deleted adapter succeeded")
            } catch {
                #expect(ServiceError.http(error).status.code == 404, "\(error)")
            }
            #expect(s.temporaryFiles().isEmpty && s.blobFiles().isEmpty, "nothing left behind")
        }
    }
}

