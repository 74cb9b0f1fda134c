/// What `AdapterCatalog.delete` removed.
public struct AdapterDeletion: Hashable, Sendable {
    /// The adapter as it was, with the names that pointed at it.
    public var adapter: AdapterRecord
    /// Squeeze-cache entries of the adapter, removed with it.
    public var removedCacheEntries: [CacheEntry]
    /// Blob files removed because no other adapter or cache entry used them.
    public var removedBlobs: [SHA256Digest]
}
