import Foundation

extension AdapterCatalog {
    /// The outcome of `cacheInsert`.
    public struct CacheInsertResult: Hashable, Sendable {
        public var entry: CacheEntry
        /// False when the key already had an entry (it is returned unchanged).
        public var created: Bool
    }

    /// The entry for `key`, or nil. A hit marks the entry used now and counts a hit on it and in
    /// the counters; a nil result counts a miss. A read and no write: the hit is kept in memory and
    /// written with others by `flushCacheTouches` (eviction flushes first, so LRU order is exact).
    public func cacheLookup(_ key: CacheKey) throws -> CacheEntry? {
        let found = try database.read { connection in try fetchCacheEntry(key, connection) }
        counters.withLock { counters in
            if found == nil { counters.misses += 1 } else { counters.hits += 1 }
        }
        guard var entry = found else { return nil }
        let time = now()
        touches.withLock { $0.touch(key, at: time) }
        entry.lastUsedAt = max(entry.lastUsedAt, Date(timeIntervalSince1970: time))
        entry.hitCount += 1
        return entry
    }

    /// Writes the cache hits kept in memory since the last flush (one transaction); returns how many
    /// entries it touched. The service calls it about once a second and at close. On failure the
    /// touches are kept for the next flush.
    @discardableResult
    public func flushCacheTouches() throws -> Int {
        try database.withConnection { connection in
            let pending = touches.withLock { $0.take() }
            guard !pending.isEmpty else { return 0 }
            do {
                try connection.transaction { try applyTouches(pending, connection) }
            } catch {
                touches.withLock { $0.restore(pending) }
                throw error
            }
            return pending.count
        }
    }

    /// Hits kept in memory and not yet written.
    public var pendingCacheTouches: Int { touches.withLock { $0.pending.count } }

    private func applyTouches(_ pending: [CacheKey: CacheTouches.Touch], _ connection: any DatabaseConnection) throws {
        for (key, touch) in pending {
            try connection.run("""
                UPDATE squeeze_cache
                SET last_used_at = CASE WHEN last_used_at > ?1 THEN last_used_at ELSE ?1 END, hit_count = hit_count + ?2
                WHERE adapter_digest = ?3 AND rank = ?4 AND options = ?5
                """, [touch.lastUsedAt, touch.hits, key.adapter.hex, key.rank, key.options])
        }
    }

    /// Records the squeezed form of an adapter, whose blobs are already committed.
    ///
    /// When the key already has an entry, that entry is returned unchanged with `created: false`
    /// and the blobs passed in are removed unless something else uses them. Throws
    /// `CatalogError.unknownAdapter` when the adapter is not stored (it may have been deleted while
    /// the squeeze ran) and `CatalogError.missingBlob` when a blob file is absent.
    /// - Parameter base: the base model the output was computed from (a merged shard):
    ///   `CatalogError.unknownBase` when it is not stored (deleted while the merge ran).
    @discardableResult
    public func cacheInsert(_ key: CacheKey, configBlob: SHA256Digest?, weightsBlob: SHA256Digest,
                            base: SHA256Digest? = nil) throws -> CacheInsertResult {
        let blobDigests = [configBlob, weightsBlob].compactMap { $0 }
        return try write { connection, effects in
            effects.claimed = blobDigests
            if let existing = try fetchCacheEntry(key, connection) {
                effects.released = blobDigests
                return CacheInsertResult(entry: existing, created: false)
            }
            guard try fetchAdapter(key.adapter, connection) != nil else { throw CatalogError.unknownAdapter(key.adapter) }
            if let base, try connection.queryFirst("SELECT 1 FROM bases WHERE digest = ?", [base.hex], { _ in true }) == nil {
                throw CatalogError.unknownBase(base.hex)
            }
            let configBytes = try configBlob.map { try registerBlob($0, connection) } ?? 0
            let weightsBytes = try registerBlob(weightsBlob, connection)
            let time = now()
            try connection.run("""
                INSERT INTO squeeze_cache (adapter_digest, rank, options, config_digest, weights_digest, bytes,
                                           created_at, last_used_at, pinned, hit_count, base_digest)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?)
                """, [key.adapter.hex, key.rank, key.options, configBlob?.hex, weightsBlob.hex,
                      configBytes + weightsBytes, time, time, base?.hex])
            touches.withLock { $0.forget(key) }   // hits of an entry evicted before, not of this one
            guard let entry = try fetchCacheEntry(key, connection) else { throw CatalogError.unknownCacheEntry(key) }
            return CacheInsertResult(entry: entry, created: true)
        }.0
    }

    /// Exempts an entry from eviction. `CatalogError.unknownCacheEntry` when there is none;
    /// `CatalogError.pinnedBytesExceeded` (and nothing changed) when pinning it would make the pinned
    /// entries hold more than `maxPinnedBytes` (counted as `cacheCounters().pinnedBytes` counts).
    @discardableResult
    public func pin(_ key: CacheKey, maxPinnedBytes: Int64 = .max) throws -> CacheEntry {
        try database.transaction { connection in
            let entry = try updatePinned(true, key, connection)
            let pinned = try pinnedBytes(connection)
            guard pinned <= maxPinnedBytes else { throw CatalogError.pinnedBytesExceeded(wouldBe: pinned, limit: maxPinnedBytes) }
            return entry
        }
    }

    /// Makes an entry evictable again. `CatalogError.unknownCacheEntry` when there is none.
    @discardableResult
    public func unpin(_ key: CacheKey) throws -> CacheEntry { try setPinned(false, key) }

    /// Removes one entry (pinned or not) and the blobs nothing else uses; nil when there was none.
    @discardableResult
    public func removeCacheEntry(_ key: CacheKey) throws -> CacheEntry? {
        try write { connection, effects in
            guard let entry = try fetchCacheEntry(key, connection) else { return nil }
            try connection.run("DELETE FROM squeeze_cache WHERE adapter_digest = ? AND rank = ? AND options = ?",
                               [key.adapter.hex, key.rank, key.options])
            effects.released = [entry.configBlob, entry.weightsBlob].compactMap { $0 }
            return entry
        }.0
    }

    /// Removes least-recently-used unpinned entries until the cache holds at most `budget` bytes,
    /// or only pinned entries (and `sparing`) are left. Returns the evicted entries, oldest first;
    /// their blobs are removed unless something else uses them. `sparing` keeps an entry that is
    /// about to be served (the one just computed), even if it alone is over the budget.
    ///
    /// The cache's size counts each blob once, however many entries share it, and not at all when an
    /// adapter holds it too (evicting would not free it): an entry's eviction frees only the blobs no
    /// other entry or adapter still uses, and only those count towards the budget.
    @discardableResult
    public func evict(toBudget budget: Int64, sparing spared: CacheKey? = nil) throws -> [CacheEntry] {
        guard budget >= 0 else { throw CatalogError.invalidBudget(budget) }
        var flushed: [CacheKey: CacheTouches.Touch] = [:]
        let evicted: [CacheEntry]
        do {
            evicted = try write { connection, effects in
            // Hits kept in memory decide the order too: write them first, in this transaction.
            flushed = touches.withLock { $0.take() }
            try applyTouches(flushed, connection)
            var total = try cacheBytes(connection)
            guard total > budget else { return [CacheEntry]() }
            var evicted: [CacheEntry] = []
            let candidates = try connection.query("""
                SELECT \(Self.cacheColumns) FROM squeeze_cache WHERE pinned = 0 ORDER BY last_used_at, rowid
                """) { try cacheEntry($0) }
            for entry in candidates where total > budget && entry.key != spared {
                try connection.run("DELETE FROM squeeze_cache WHERE adapter_digest = ? AND rank = ? AND options = ?",
                                   [entry.key.adapter.hex, entry.key.rank, entry.key.options])
                let blobs = Set([entry.configBlob, entry.weightsBlob].compactMap { $0 })
                for blob in blobs { total -= try sizeFreedByCache(blob, connection) }
                evicted.append(entry)
                effects.released += Array(blobs)
            }
            return evicted
            }.0
        } catch {
            touches.withLock { $0.restore(flushed) }
            throw error
        }
        if !evicted.isEmpty {
            counters.withLock { $0.evictions += evicted.count }
            logger.info("evicted squeezed adapters from the cache",
                        metadata: ["count": "\(evicted.count)", "bytes": "\(evicted.reduce(0) { $0 + $1.bytes })",
                                   "budget": "\(budget)"])
        }
        return evicted
    }

    /// The entry for `key` without touching it or the counters (a second look inside a single flight).
    public func cachePeek(_ key: CacheKey) throws -> CacheEntry? {
        try database.read { try fetchCacheEntry(key, $0) }
    }

    /// The cache entries of one adapter, most recently used first.
    public func cacheEntries(for adapter: SHA256Digest) throws -> [CacheEntry] {
        try database.read { try fetchCacheEntries(adapter: adapter, $0) }
    }

    /// Hits, misses and evictions since open, with the entries and bytes stored now.
    public func cacheCounters() throws -> CacheCounters {
        try database.read { try cacheCounters($0) }
    }

    // MARK: Rows

    static let cacheColumns = """
        adapter_digest, rank, options, config_digest, weights_digest, bytes, created_at, last_used_at, pinned, hit_count,
        base_digest
        """

    func cacheCounters(_ connection: any DatabaseConnection) throws -> CacheCounters {
        var result = counters.withLock { $0 }
        result.entries = try connection.queryFirst("SELECT count(*) FROM squeeze_cache") { try $0.column(0) as Int } ?? 0
        result.bytes = try cacheBytes(connection)
        result.pinnedBytes = try pinnedBytes(connection)
        return result
    }

    /// Blobs no adapter or base model refers to, so that removing the cache rows would free them.
    /// A blob no adapter and no base file holds: indexed lookups per cached blob (a `NOT IN` over
    /// every adapter's digests cost 12 ms a call at 10,000 adapters, against 1 ms).
    private static let cacheOnlyBlobs = """
        NOT EXISTS (SELECT 1 FROM adapters WHERE config_digest = blobs.digest)
        AND NOT EXISTS (SELECT 1 FROM adapters WHERE weights_digest = blobs.digest)
        AND NOT EXISTS (SELECT 1 FROM base_files WHERE blob_digest = blobs.digest)
        """

    /// The bytes the cache holds on disk: each blob a cache row refers to, once, unless an adapter
    /// holds it too.
    func cacheBytes(_ connection: any DatabaseConnection) throws -> Int64 {
        try connection.queryFirst("""
            SELECT coalesce(sum(size), 0) FROM blobs
            WHERE digest IN (SELECT config_digest FROM squeeze_cache WHERE config_digest IS NOT NULL
                             UNION SELECT weights_digest FROM squeeze_cache)
              AND \(Self.cacheOnlyBlobs)
            """) { try $0.column(0) as Int64 } ?? 0
    }

    /// The part of `cacheBytes` that pinned rows hold, counted the same way.
    func pinnedBytes(_ connection: any DatabaseConnection) throws -> Int64 {
        try connection.queryFirst("""
            SELECT coalesce(sum(size), 0) FROM blobs
            WHERE digest IN (SELECT config_digest FROM squeeze_cache WHERE pinned = 1 AND config_digest IS NOT NULL
                             UNION SELECT weights_digest FROM squeeze_cache WHERE pinned = 1)
              AND \(Self.cacheOnlyBlobs)
            """) { try $0.column(0) as Int64 } ?? 0
    }

    /// The size of `blob` if no cache row and no adapter refers to it any more (its removal then
    /// frees it), else 0.
    private func sizeFreedByCache(_ blob: SHA256Digest, _ connection: any DatabaseConnection) throws -> Int64 {
        try connection.queryFirst("""
            SELECT coalesce(sum(size), 0) FROM blobs WHERE digest = ?1
              AND NOT EXISTS (SELECT 1 FROM squeeze_cache WHERE config_digest = ?1 OR weights_digest = ?1)
              AND NOT EXISTS (SELECT 1 FROM adapters WHERE config_digest = ?1 OR weights_digest = ?1)
              AND NOT EXISTS (SELECT 1 FROM base_files WHERE blob_digest = ?1)
            """, [blob.hex]) { try $0.column(0) as Int64 } ?? 0
    }

    func fetchCacheEntries(adapter: SHA256Digest, _ connection: any DatabaseConnection) throws -> [CacheEntry] {
        try connection.query("""
            SELECT \(Self.cacheColumns) FROM squeeze_cache WHERE adapter_digest = ? ORDER BY last_used_at DESC, rowid DESC
            """, [adapter.hex]) { try cacheEntry($0) }
    }

    private func fetchCacheEntry(_ key: CacheKey, _ connection: any DatabaseConnection) throws -> CacheEntry? {
        try connection.queryFirst("""
            SELECT \(Self.cacheColumns) FROM squeeze_cache WHERE adapter_digest = ? AND rank = ? AND options = ?
            """, [key.adapter.hex, key.rank, key.options]) { try cacheEntry($0) }
    }

    private func setPinned(_ pinned: Bool, _ key: CacheKey) throws -> CacheEntry {
        try database.transaction { connection in try updatePinned(pinned, key, connection) }
    }

    private func updatePinned(_ pinned: Bool, _ key: CacheKey, _ connection: any DatabaseConnection) throws -> CacheEntry {
        guard let entry = try connection.queryFirst("""
            UPDATE squeeze_cache SET pinned = ? WHERE adapter_digest = ? AND rank = ? AND options = ?
            RETURNING \(Self.cacheColumns)
            """, [pinned, key.adapter.hex, key.rank, key.options], { try cacheEntry($0) }) else {
            throw CatalogError.unknownCacheEntry(key)
        }
        return entry
    }

    func cacheEntryRow(_ row: any DatabaseRow) throws -> CacheEntry { try cacheEntry(row) }

    private func cacheEntry(_ row: any DatabaseRow) throws -> CacheEntry {
        let adapter = try digest(row, 0, table: "squeeze_cache", column: "adapter_digest")
        let rank = try row.column(1) as Int
        let options = try row.column(2) as String
        let key: CacheKey
        do { key = try CacheKey(adapter: adapter, rank: rank, options: options) } catch {
            throw CatalogError.corruptRow(table: "squeeze_cache", column: "rank, options", value: "\(rank), \(options)")
        }
        let entry = CacheEntry(
            key: key,
            configBlob: try optionalDigest(row, 3, table: "squeeze_cache", column: "config_digest"),
            weightsBlob: try digest(row, 4, table: "squeeze_cache", column: "weights_digest"),
            bytes: try row.column(5),
            createdAt: Date(timeIntervalSince1970: try row.column(6)),
            lastUsedAt: Date(timeIntervalSince1970: try row.column(7)),
            pinned: try row.column(8),
            hitCount: try row.column(9),
            base: try optionalDigest(row, 10, table: "squeeze_cache", column: "base_digest"))
        return touches.withLock { $0.applied(to: entry) }
    }
}

extension AdapterCatalog {
    /// Tries to take the fleet-wide claim on computing `key` (see `ComputeLock`): the lock, or nil
    /// while another replica computes it. On SQLite, always the lock.
    public func tryComputeLock(_ key: CacheKey) throws -> ComputeLock? {
        try database.tryComputeLock("cache \(key.adapter.hex) \(key.rank) \(key.options)")
    }

    /// The same for other work one replica does for the fleet (`scrub`).
    public func tryComputeLock(name: String) throws -> ComputeLock? {
        try database.tryComputeLock("task \(name)")
    }
}
