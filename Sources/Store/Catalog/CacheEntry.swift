import Foundation

/// One squeezed form in the cache, pointing at its output blobs.
public struct CacheEntry: Hashable, Sendable {
    public var key: CacheKey
    /// The squeezed `adapter_config.json` (nil when the format has none).
    public var configBlob: SHA256Digest?
    public var weightsBlob: SHA256Digest
    /// Sum of the config and weights blob sizes; what counts against the budget.
    public var bytes: Int64
    public var createdAt: Date
    public var lastUsedAt: Date
    /// Pinned entries are never evicted.
    public var pinned: Bool
    /// Lookups that found this entry.
    public var hitCount: Int64
    /// The base model the entry was computed from (a merged shard), or nil.
    public var base: SHA256Digest? = nil
}
