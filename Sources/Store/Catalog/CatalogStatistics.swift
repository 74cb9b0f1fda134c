/// Totals for metrics, read together so they agree with each other.
public struct CatalogStatistics: Hashable, Sendable {
    public var adapterCount: Int
    /// Sum of the adapters' `totalBytes` (shared blobs counted once per adapter).
    public var adapterBytes: Int64
    /// Blobs referenced by adapters or cache entries, each counted once.
    public var blobCount: Int
    public var blobBytes: Int64
    /// Jobs in each state; every state is present.
    public var jobsByState: [JobState: Int]
    public var cache: CacheCounters
}
