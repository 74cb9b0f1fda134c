import Foundation
import Testing
import Store

/// The cache's size is what eviction can free: shared blobs count once, blobs an adapter also holds
/// not at all. Pinned bytes are capped.
@Suite("AdapterCatalog: cache accounting and the pinned cap")
struct AdapterCatalogCacheAccountingTests {
    @Test("two entries sharing a blob count its bytes once; evicting one frees nothing until the other goes")
    func sharedBlob() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        let shared = try fixture.catalog.blobs.write(Data(repeating: 7, count: 1000)).digest
        let config = try fixture.catalog.blobs.write(Data("{\"r\": 4}".utf8)).digest   // 8 bytes, shared too
        let a = try CacheKey(adapter: adapter.digest, rank: 4, options: "a")
        let b = try CacheKey(adapter: adapter.digest, rank: 4, options: "b")
        try fixture.catalog.cacheInsert(a, configBlob: config, weightsBlob: shared)
        fixture.clock.advance(by: 1)
        try fixture.catalog.cacheInsert(b, configBlob: config, weightsBlob: shared)
        var counters = try fixture.catalog.cacheCounters()
        #expect(counters.entries == 2)
        #expect(counters.bytes == 1008, "shared blobs counted once")
        #expect(try fixture.catalog.cacheEntries(for: adapter.digest).map(\.bytes) == [1008, 1008], "each entry keeps its own size")
        // A budget the two entries fit in as one: nothing to evict.
        #expect(try fixture.catalog.evict(toBudget: 1008).isEmpty)
        // A budget below it: the older entry goes first, which frees nothing, so the second goes too.
        let evicted = try fixture.catalog.evict(toBudget: 1007)
        #expect(evicted.map(\.key) == [a, b])
        counters = try fixture.catalog.cacheCounters()
        #expect(counters.bytes == 0 && counters.entries == 0)
        #expect(!fixture.blobExists(shared))
    }

    @Test("a cache blob that an adapter also holds does not count, and eviction leaves it on disk")
    func blobHeldByAnAdapter() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        let record = try #require(try fixture.catalog.adapter(adapter.digest))
        let key = try CacheKey(adapter: adapter.digest, rank: 2, options: "same-bytes")
        try fixture.catalog.cacheInsert(key, configBlob: nil, weightsBlob: record.weightsBlob)
        #expect(try fixture.catalog.cacheCounters().bytes == 0)
        #expect(try fixture.catalog.evict(toBudget: 0).isEmpty, "nothing over budget: the entry frees no bytes")
        #expect(try fixture.catalog.removeCacheEntry(key) != nil)
        #expect(fixture.blobExists(record.weightsBlob), "the adapter still needs it")
    }

    @Test("pinning: at the cap accepted, one byte past refused with nothing changed; shared blobs count once")
    func pinnedCap() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        let k1 = try CacheKey(adapter: adapter.digest, rank: 1, options: "x")
        let k2 = try CacheKey(adapter: adapter.digest, rank: 2, options: "x")
        try fixture.insertCache(k1, seed: "one", bytes: 300)
        try fixture.insertCache(k2, seed: "two", bytes: 200)
        #expect(try fixture.catalog.pin(k1, maxPinnedBytes: 500).pinned)
        #expect(try fixture.catalog.pin(k2, maxPinnedBytes: 500).pinned, "300 + 200 = 500, at the cap")
        #expect(try fixture.catalog.cacheCounters().pinnedBytes == 500)
        try fixture.catalog.unpin(k2)
        #expect(throws: CatalogError.pinnedBytesExceeded(wouldBe: 500, limit: 499)) {
            try fixture.catalog.pin(k2, maxPinnedBytes: 499)
        }
        #expect(try fixture.catalog.cachePeek(k2)?.pinned == false, "the refused pin changed nothing")
        #expect(try fixture.catalog.cacheCounters().pinnedBytes == 300)
        // Re-pinning what is already pinned costs nothing more.
        #expect(try fixture.catalog.pin(k1, maxPinnedBytes: 300).pinned)
    }
}
