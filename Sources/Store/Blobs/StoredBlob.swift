/// A blob as committed to the store: its digest and size in bytes.
public struct StoredBlob: Hashable, Sendable {
    public var digest: SHA256Digest
    public var size: Int64

    public init(digest: SHA256Digest, size: Int64) {
        self.digest = digest
        self.size = size
    }
}
