import Foundation
import Logging
import Testing
import Store

/// A cache hit is a read and nothing else: hits are kept in memory and written in batches, and
/// eviction writes them first so its LRU order is the true one.
@Suite("AdapterCatalog: cache hits kept in memory, written in batches")
struct AdapterCatalogTouchTests {
    /// The row as stored, read through a second connection (not through the catalog, which shows
    /// pending hits).
    static func storedRow(_ fixture: CatalogFixture, _ key: CacheKey) throws -> (hits: Int64, lastUsed: Double)? {
        let database = try fixture.independentDatabase()
        defer { database.close() }
        return try database.read { connection in
            try connection.queryFirst("""
                SELECT hit_count, last_used_at FROM squeeze_cache WHERE adapter_digest = ? AND rank = ? AND options = ?
                """, [key.adapter.hex, key.rank, key.options]) { (try $0.column(0) as Int64, try $0.column(1) as Double) }
        }
    }

    @Test("a lookup writes nothing; the catalog shows the hit at once and stores it at the flush")
    func lookupWritesNothing() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("a")
        let key = try CacheKey(adapter: adapter.digest, rank: 4, options: "")
        let inserted = try fixture.insertCache(key, seed: "a4")
        // On SQLite, no page is written either (the WAL does not grow).
        let wal = fixture.directory.appendingPathComponent("catalog.sqlite-wal").path
        let walBefore = CatalogFixture.onPostgres ? nil : try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int
        fixture.clock.advance(by: 30)
        #expect(try fixture.catalog.cacheLookup(key)?.hitCount == 1)
        #expect(try fixture.catalog.cacheLookup(key)?.hitCount == 2)
        let walAfter = CatalogFixture.onPostgres ? nil : try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int
        #expect(walAfter == walBefore, "no page written")
        #expect(try Self.storedRow(fixture, key)?.hits == 0)
        #expect(fixture.catalog.pendingCacheTouches == 1)
        // Reads through the catalog see the pending hits.
        let shown = try #require(try fixture.catalog.cacheEntries(for: adapter.digest).first)
        #expect(shown.hitCount == 2 && shown.lastUsedAt == fixture.clock.now)
        #expect(try fixture.catalog.cachePeek(key)?.hitCount == 2)

        #expect(try fixture.catalog.flushCacheTouches() == 1)
        #expect(fixture.catalog.pendingCacheTouches == 0)
        let stored = try #require(try Self.storedRow(fixture, key))
        #expect(stored.hits == 2 && stored.lastUsed == fixture.clock.now.timeIntervalSince1970)
        #expect(stored.lastUsed > inserted.lastUsedAt.timeIntervalSince1970)
        #expect(try fixture.catalog.flushCacheTouches() == 0, "nothing left to write")
    }

    @Test("eviction counts hits not yet written: the entry used last stays")
    func evictionSeesPendingHits() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("a")
        let older = try CacheKey(adapter: adapter.digest, rank: 1, options: "")
        let newer = try CacheKey(adapter: adapter.digest, rank: 2, options: "")
        try fixture.insertCache(older, seed: "one", bytes: 100)
        fixture.clock.advance(by: 1)
        try fixture.insertCache(newer, seed: "two", bytes: 100)
        fixture.clock.advance(by: 1)
        _ = try fixture.catalog.cacheLookup(older)   // in memory only
        let evicted = try fixture.catalog.evict(toBudget: 100)
        #expect(evicted.map(\.key) == [newer])
        #expect(fixture.catalog.pendingCacheTouches == 0, "eviction wrote them")
        #expect(try Self.storedRow(fixture, older)?.hits == 1)
    }

    @Test("closing writes pending hits; a reopened catalog has them")
    func closeFlushes() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("a")
        let key = try CacheKey(adapter: adapter.digest, rank: 3, options: "")
        try fixture.insertCache(key, seed: "a3")
        fixture.clock.advance(by: 5)
        _ = try fixture.catalog.cacheLookup(key)
        let reopened = try fixture.reopen()
        #expect(try reopened.cachePeek(key)?.hitCount == 1)
        #expect(try reopened.cachePeek(key)?.lastUsedAt == fixture.clock.now)
    }

    @Test("a re-created entry does not inherit the hits of the one evicted before it")
    func recreatedEntryStartsAtZero() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("a")
        let key = try CacheKey(adapter: adapter.digest, rank: 5, options: "")
        try fixture.insertCache(key, seed: "a5")
        _ = try fixture.catalog.cacheLookup(key)
        try fixture.catalog.removeCacheEntry(key)
        let again = try fixture.insertCache(key, seed: "a5 again")
        #expect(again.hitCount == 0)
        try fixture.catalog.flushCacheTouches()
        #expect(try fixture.catalog.cachePeek(key)?.hitCount == 0)
    }
}
