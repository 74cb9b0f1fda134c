/// Cache hits not yet written to the catalog: for each entry, the time of its latest hit and how
/// many hits it had. A cache hit is then a read and nothing else; the touches reach
/// `squeeze_cache.last_used_at` and `hit_count` in one transaction per flush
/// (`AdapterCatalog.flushCacheTouches`), and always before eviction chooses what to drop.
struct CacheTouches {
    struct Touch: Hashable {
        var lastUsedAt: Double
        var hits: Int64
    }

    private(set) var pending: [CacheKey: Touch] = [:]

    var isEmpty: Bool { pending.isEmpty }

    mutating func touch(_ key: CacheKey, at time: Double) {
        var touch = pending[key] ?? Touch(lastUsedAt: time, hits: 0)
        touch.hits += 1
        touch.lastUsedAt = max(touch.lastUsedAt, time)
        pending[key] = touch
    }

    /// Takes every pending touch out.
    mutating func take() -> [CacheKey: Touch] {
        defer { pending = [:] }
        return pending
    }

    /// Puts touches back (their write failed), merged with any that arrived meanwhile.
    mutating func restore(_ touches: [CacheKey: Touch]) {
        for (key, touch) in touches {
            if let newer = pending[key] {
                pending[key] = Touch(lastUsedAt: max(newer.lastUsedAt, touch.lastUsedAt), hits: newer.hits + touch.hits)
            } else {
                pending[key] = touch
            }
        }
    }

    mutating func forget(_ key: CacheKey) { pending[key] = nil }

    /// `entry` as it will be once its pending touches are written.
    func applied(to entry: CacheEntry) -> CacheEntry {
        guard let touch = pending[entry.key] else { return entry }
        var entry = entry
        entry.lastUsedAt = max(entry.lastUsedAt, Date(timeIntervalSince1970: touch.lastUsedAt))
        entry.hitCount += touch.hits
        return entry
    }
}

import Foundation
