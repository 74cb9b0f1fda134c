import Foundation
import Testing
import Store

@Suite("AdapterCatalog: the squeeze cache")
struct AdapterCatalogCacheTests {
    @Test("insert, then lookups count hits and misses and touch last-used")
    func lookup() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        let key = try CacheKey(adapter: adapter.digest, rank: 16, options: "method=exact;dtype=bf16;energy=")
        let other = try CacheKey(adapter: adapter.digest, rank: 16, options: "method=exact;dtype=f16;energy=")
        #expect(try fixture.catalog.cacheLookup(key) == nil)
        let inserted = try fixture.insertCache(key, seed: "s16", bytes: 300, config: "{\"r\": 16}")
        #expect(inserted.bytes == 300 && inserted.hitCount == 0 && !inserted.pinned)
        #expect(inserted.createdAt == fixture.clock.now && inserted.lastUsedAt == fixture.clock.now)
        fixture.clock.advance(by: 10)
        let hit = try #require(try fixture.catalog.cacheLookup(key))
        #expect(hit.hitCount == 1 && hit.lastUsedAt == fixture.clock.now && hit.createdAt == inserted.createdAt)
        #expect(hit.configBlob == inserted.configBlob && hit.weightsBlob == inserted.weightsBlob)
        #expect(try fixture.catalog.cacheLookup(other) == nil)
        #expect(try fixture.catalog.cacheLookup(key)?.hitCount == 2)
        let counters = try fixture.catalog.cacheCounters()
        #expect(counters == CacheCounters(hits: 2, misses: 2, evictions: 0, entries: 1, bytes: 300, pinnedBytes: 0))
        #expect(try fixture.catalog.cacheEntries(for: adapter.digest).map(\.key) == [key])
    }

    @Test("inserting an existing key keeps the first entry and removes the new, unused blobs")
    func duplicateInsert() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        let key = try CacheKey(adapter: adapter.digest, rank: 4, options: "")
        let first = try fixture.insertCache(key, seed: "first")
        let late = try fixture.catalog.blobs.write(Data("a second computation".utf8)).digest
        let result = try fixture.catalog.cacheInsert(key, configBlob: nil, weightsBlob: late)
        #expect(!result.created && result.entry == first)
        #expect(!fixture.blobExists(late))
        #expect(fixture.blobExists(first.weightsBlob))
    }

    @Test("insert refuses an unknown adapter and a missing blob")
    func insertErrors() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        let blob = try fixture.catalog.blobs.write(Data("out".utf8)).digest
        let nobody = try SHA256.hash(Data("nobody".utf8))
        #expect(throws: CatalogError.unknownAdapter(nobody)) {
            try fixture.catalog.cacheInsert(CacheKey(adapter: nobody, rank: 1, options: ""), configBlob: nil, weightsBlob: blob)
        }
        let absent = try SHA256.hash(Data("absent".utf8))
        #expect(throws: CatalogError.missingBlob(absent)) {
            try fixture.catalog.cacheInsert(CacheKey(adapter: adapter.digest, rank: 1, options: ""), configBlob: absent, weightsBlob: blob)
        }
        #expect(try fixture.catalog.cacheCounters().entries == 0)
    }

    @Test("cache keys: rank 1 and 1024 option bytes accepted; rank 0, 1025 bytes and non-ASCII refused")
    func keyBounds() throws {
        let digest = try SHA256.hash(Data("k".utf8))
        #expect(try CacheKey(adapter: digest, rank: 1, options: String(repeating: "o", count: CacheKey.maxOptionsBytes)).rank == 1)
        for (rank, options) in [(0, ""), (-1, ""), (1, String(repeating: "o", count: CacheKey.maxOptionsBytes + 1)),
                                (1, "dtype=bf16\u{0}"), (1, "énergie"), (1, "a\nb")] {
            #expect(throws: CatalogError.self) { try CacheKey(adapter: digest, rank: rank, options: options) }
        }
    }

    /// Four 100-byte entries used at t1…t4; e1 is looked up again (most recent), e2 is pinned.
    @Test("evict removes least-recently-used unpinned entries until within budget")
    func lruWithPinned() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        var keys: [CacheKey] = []
        var entries: [CacheEntry] = []
        for rank in 1...4 {
            let key = try CacheKey(adapter: adapter.digest, rank: rank, options: "m")
            keys.append(key)
            entries.append(try fixture.insertCache(key, seed: "e\(rank)", bytes: 100))
            fixture.clock.advance()
        }
        _ = try fixture.catalog.cacheLookup(keys[0])
        try fixture.catalog.pin(keys[1])

        #expect(try fixture.catalog.evict(toBudget: 400).isEmpty)  // at the budget: nothing to do
        #expect(try fixture.catalog.evict(toBudget: 399).map(\.key) == [keys[2]])  // one past: the LRU one
        #expect(try fixture.catalog.evict(toBudget: 200).map(\.key) == [keys[3]])
        #expect(try fixture.catalog.evict(toBudget: 0).map(\.key) == [keys[0]])  // the pinned one stays
        #expect(try fixture.catalog.cacheLookup(keys[1]) != nil)
        var counters = try fixture.catalog.cacheCounters()
        #expect(counters.evictions == 3 && counters.entries == 1 && counters.bytes == 100 && counters.pinnedBytes == 100)
        #expect(!fixture.blobExists(entries[2].weightsBlob) && !fixture.blobExists(entries[0].weightsBlob))
        #expect(fixture.blobExists(entries[1].weightsBlob))

        #expect(try !fixture.catalog.unpin(keys[1]).pinned)
        #expect(try fixture.catalog.evict(toBudget: 0).map(\.key) == [keys[1]])
        counters = try fixture.catalog.cacheCounters()
        #expect(counters.evictions == 4 && counters.entries == 0 && counters.bytes == 0)
        #expect(throws: CatalogError.invalidBudget(-1)) { try fixture.catalog.evict(toBudget: -1) }
    }

    @Test("eviction keeps a blob another entry still uses")
    func sharedBlobSurvivesEviction() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        let config = "{\"r\": 8, \"same\": true}"
        let old = try fixture.insertCache(CacheKey(adapter: adapter.digest, rank: 8, options: "a"), seed: "a", config: config)
        fixture.clock.advance()
        let new = try fixture.insertCache(CacheKey(adapter: adapter.digest, rank: 8, options: "b"), seed: "b", config: config)
        #expect(old.configBlob == new.configBlob)
        #expect(try fixture.catalog.evict(toBudget: 100).map(\.key) == [old.key])
        #expect(fixture.blobExists(try #require(new.configBlob)))
        #expect(!fixture.blobExists(old.weightsBlob))
    }

    @Test("pin and unpin an unknown entry are typed errors; removeCacheEntry removes one entry")
    func pinAndRemove() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        let key = try CacheKey(adapter: adapter.digest, rank: 2, options: "")
        #expect(throws: CatalogError.unknownCacheEntry(key)) { try fixture.catalog.pin(key) }
        #expect(throws: CatalogError.unknownCacheEntry(key)) { try fixture.catalog.unpin(key) }
        let entry = try fixture.insertCache(key, seed: "x")
        #expect(try fixture.catalog.pin(key).pinned)
        #expect(try fixture.catalog.removeCacheEntry(key)?.key == key)
        #expect(try fixture.catalog.removeCacheEntry(key) == nil)
        #expect(!fixture.blobExists(entry.weightsBlob))
    }
}
