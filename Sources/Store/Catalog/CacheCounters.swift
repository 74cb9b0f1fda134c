/// Cache counters for metrics. Hits, misses and evictions count since this process opened the
/// catalog (Prometheus counters reset on restart); entries and bytes are what is stored now.
public struct CacheCounters: Hashable, Sendable {
    public var hits: Int = 0
    public var misses: Int = 0
    public var evictions: Int = 0
    public var entries: Int = 0
    public var bytes: Int64 = 0
    /// The part of `bytes` held by pinned entries, which eviction cannot reclaim.
    public var pinnedBytes: Int64 = 0

    public init(hits: Int = 0, misses: Int = 0, evictions: Int = 0, entries: Int = 0, bytes: Int64 = 0,
                pinnedBytes: Int64 = 0) {
        self.hits = hits
        self.misses = misses
        self.evictions = evictions
        self.entries = entries
        self.bytes = bytes
        self.pinnedBytes = pinnedBytes
    }
}
