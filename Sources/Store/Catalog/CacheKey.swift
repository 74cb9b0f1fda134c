/// Identifies one squeezed form of an adapter: the adapter, the target rank, and a canonical
/// options string chosen by the caller (e.g. `method=exact;dtype=bf16;energy=`). The store only
/// compares keys; the caller must spell equal options identically.
public struct CacheKey: Hashable, Sendable, CustomStringConvertible {
    /// The longest options string, in bytes.
    public static let maxOptionsBytes = 1024

    public let adapter: SHA256Digest
    public let rank: Int
    public let options: String

    /// Validates the key: `rank` ≥ 1, `options` at most `maxOptionsBytes` of printable ASCII.
    public init(adapter: SHA256Digest, rank: Int, options: String) throws(CatalogError) {
        guard rank >= 1 else { throw .invalidCacheKey("rank \(rank) is not positive") }
        let bytes = Array(options.utf8)
        guard bytes.count <= Self.maxOptionsBytes else {
            throw .invalidCacheKey("options string has \(bytes.count) bytes; at most \(Self.maxOptionsBytes) are allowed")
        }
        if let offset = bytes.firstIndex(where: { !(0x20...0x7e).contains($0) }) {
            throw .invalidCacheKey("options string \(quoted(options)): byte \(offset) is not printable ASCII")
        }
        self.adapter = adapter
        self.rank = rank
        self.options = options
    }

    public var description: String { "\(adapter.hex)@\(rank)[\(options)]" }
}
