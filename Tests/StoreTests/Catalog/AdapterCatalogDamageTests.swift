import Foundation
import Testing
import Store

@Suite("AdapterCatalog: damaged blobs quarantined, claims never leaked")
struct AdapterCatalogDamageTests {
    @Test("a damaged cache blob: its entries go, the file moves to quarantine/, no adapter is marked")
    func cacheBlob() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("a")
        let key = try CacheKey(adapter: adapter.digest, rank: 4, options: "")
        let entry = try fixture.insertCache(key, seed: "a4", config: "{\"r\": 4}")
        try flipByte(in: fixture.catalog.blobs.url(for: entry.weightsBlob), at: 3)
        guard case let .corrupt(actual, _) = try fixture.catalog.blobs.verify(entry.weightsBlob) else {
            Issue.record("the flipped byte was not found")
            return
        }
        let report = try fixture.catalog.quarantine(entry.weightsBlob, actual: actual)
        #expect(report.removedCacheEntries == [key] && report.damagedAdapters.isEmpty && report.moved)
        #expect(try fixture.catalog.cachePeek(key) == nil)
        #expect(!fixture.blobExists(entry.weightsBlob))
        #expect(try fixture.catalog.blobs.quarantinedFiles() == [entry.weightsBlob.hex])
        #expect(!fixture.blobExists(try #require(entry.configBlob)), "the entry's other blob was freed")
        #expect(try fixture.catalog.blobInfo(entry.weightsBlob) == nil)
        #expect(try fixture.catalog.adapter(adapter.digest)?.damaged == false)
    }

    @Test("a damaged adapter blob marks the adapter until the same content is put again")
    func adapterBlob() throws {
        let fixture = try CatalogFixture()
        let new = try fixture.makeAdapter("a")
        try fixture.catalog.put(new, name: AdapterName(validating: "tagged"))
        try flipByte(in: fixture.catalog.blobs.url(for: new.weightsBlob))
        guard case let .corrupt(actual, _) = try fixture.catalog.blobs.verify(new.weightsBlob) else {
            Issue.record("the flipped byte was not found")
            return
        }
        let report = try fixture.catalog.quarantine(new.weightsBlob, actual: actual)
        #expect(report.damagedAdapters == [new.digest] && report.moved)
        #expect(try fixture.catalog.adapter(new.digest)?.damaged == true)
        #expect(try fixture.catalog.resolve("tagged").damaged == true)
        #expect(try fixture.catalog.list().items.first?.damaged == true)
        #expect(try fixture.catalog.damagedBlobs().map(\.digest) == [new.weightsBlob])
        #expect(try fixture.catalog.damagedBlobs().first?.actual == actual)
        #expect(try fixture.catalog.blobInfo(new.weightsBlob)?.damaged == true)
        // Survives a restart; orphan collection leaves the quarantine alone.
        let reopened = try fixture.reopen()
        #expect(try reopened.adapter(new.digest)?.damaged == true)
        #expect(try reopened.blobs.quarantinedFiles() == [new.weightsBlob.hex])

        // The same content again repairs it.
        let again = try fixture.makeAdapter("a")
        let result = try reopened.put(again)
        #expect(!result.created && !result.adapter.damaged)
        #expect(try reopened.adapter(new.digest)?.damaged == false)
        #expect(try reopened.damagedBlobs().isEmpty)
        #expect(fixture.blobExists(new.weightsBlob))
    }

    @Test("a cache insert that fails (its adapter was deleted) releases its blobs: removed, not left awaiting a claim")
    func failedInsertReleasesBlobs() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("gone")
        let key = try CacheKey(adapter: adapter.digest, rank: 2, options: "")
        try fixture.catalog.delete(.digest(adapter.digest))
        let blob = try fixture.catalog.blobs.write(Data("computed while it was deleted".utf8)).digest
        #expect(throws: CatalogError.unknownAdapter(adapter.digest)) {
            try fixture.catalog.cacheInsert(key, configBlob: nil, weightsBlob: blob)
        }
        #expect(!fixture.blobExists(blob))
        #expect(try fixture.catalog.removeOrphanBlobs().isEmpty)
    }

    @Test("abandon drops a committed blob nothing records, and keeps one a row uses")
    func abandon() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("kept")
        let loose = try fixture.catalog.blobs.write(Data("never recorded".utf8)).digest
        // A second commit of a recorded blob, then abandoned: the recorded file stays.
        let shared = try fixture.catalog.blobs.write(Data("weights of kept".utf8)).digest
        #expect(shared == adapter.weightsBlob)
        fixture.catalog.abandon([loose, shared])
        #expect(!fixture.blobExists(loose))
        #expect(fixture.blobExists(adapter.weightsBlob))
        // Nothing awaits a claim any more: orphan collection could take it if it were unrecorded.
        #expect(try fixture.catalog.removeOrphanBlobs().isEmpty)
    }
}
