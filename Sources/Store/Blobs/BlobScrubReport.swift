/// A blob whose content no longer matches its name.
public struct CorruptBlob: Hashable, Sendable {
    /// The name (expected digest).
    public var digest: SHA256Digest
    /// What the content hashes to now.
    public var actual: SHA256Digest
    public var size: Int64

    public init(digest: SHA256Digest, actual: SHA256Digest, size: Int64) {
        self.digest = digest
        self.actual = actual
        self.size = size
    }
}

/// The outcome of `BlobStore.scrub()`.
public struct BlobScrubReport: Equatable, Sendable {
    /// Blobs rehashed.
    public var checked: Int = 0
    /// Bytes read.
    public var bytes: Int64 = 0
    /// Blobs whose content no longer matches their name.
    public var corrupt: [CorruptBlob] = []
    /// Files under `blobs/` whose path is not a digest (left in place, reported for an operator).
    public var strayFiles: [String] = []

    public init(checked: Int = 0, bytes: Int64 = 0, corrupt: [CorruptBlob] = [], strayFiles: [String] = []) {
        self.checked = checked
        self.bytes = bytes
        self.corrupt = corrupt
        self.strayFiles = strayFiles
    }
}
