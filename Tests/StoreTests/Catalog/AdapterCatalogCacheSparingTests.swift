import Foundation
import Testing
import Store

@Suite("AdapterCatalog: sparing the entry being served, peeking without counting")
struct AdapterCatalogCacheSparingTests {
    @Test("an entry larger than the whole budget survives the eviction it triggers when spared")
    func sparing() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        let old = try CacheKey(adapter: adapter.digest, rank: 4, options: "a")
        let fresh = try CacheKey(adapter: adapter.digest, rank: 8, options: "a")
        _ = try fixture.insertCache(old, seed: "old", bytes: 100)
        fixture.clock.advance(by: 1)
        _ = try fixture.insertCache(fresh, seed: "fresh", bytes: 500)
        let evicted = try fixture.catalog.evict(toBudget: 200, sparing: fresh)
        #expect(evicted.map(\.key) == [old])
        #expect(try fixture.catalog.cachePeek(fresh) != nil)
        // Not spared, the same call removes it too.
        #expect(try fixture.catalog.evict(toBudget: 200).map(\.key) == [fresh])
    }

    @Test("peek neither counts nor touches")
    func peek() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.putAdapter("base")
        let key = try CacheKey(adapter: adapter.digest, rank: 4, options: "p")
        #expect(try fixture.catalog.cachePeek(key) == nil)
        let inserted = try fixture.insertCache(key, seed: "p", bytes: 100)
        fixture.clock.advance(by: 5)
        let seen = try #require(try fixture.catalog.cachePeek(key))
        #expect(seen.lastUsedAt == inserted.lastUsedAt && seen.hitCount == 0)
        let counters = try fixture.catalog.cacheCounters()
        #expect(counters.hits == 0 && counters.misses == 0)
    }
}
