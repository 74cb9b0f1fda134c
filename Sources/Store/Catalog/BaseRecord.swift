import Foundation

/// A base model as the catalog stores it: a model directory whose files are blobs. Immutable once
/// stored, except for the names pointing at it.
public struct BaseRecord: Hashable, Sendable {
    /// One file of the directory.
    public struct File: Hashable, Sendable {
        public var path: String
        public var blob: SHA256Digest
        public var size: Int64
        public init(path: String, blob: SHA256Digest, size: Int64) {
            self.path = path
            self.blob = blob
            self.size = size
        }
    }

    /// The digest of the directory's file manifest, computed by the caller; its identity.
    public var digest: SHA256Digest
    /// Every file, sorted by path.
    public var files: [File]
    public var totalBytes: Int64
    public var tensorCount: Int
    /// JSON text describing the model, chosen by the caller and opaque to the store.
    public var descriptionJSON: String
    public var createdAt: Date
    /// Names currently pointing at this base, sorted.
    public var names: [AdapterName]
    /// A file of this base failed verification and was quarantined: it must not be served or merged
    /// until the same content is uploaded again.
    public var damaged: Bool = false

    public func file(_ path: String) -> File? { files.first { $0.path == path } }
}

/// What `AdapterCatalog.putBase` needs to store a base model whose blobs are already committed.
public struct NewBase: Hashable, Sendable {
    public var digest: SHA256Digest
    /// Each file's path and blob, at most one per path.
    public var files: [String: SHA256Digest]
    public var tensorCount: Int
    public var descriptionJSON: String

    public init(digest: SHA256Digest, files: [String: SHA256Digest], tensorCount: Int, descriptionJSON: String = "{}") {
        self.digest = digest
        self.files = files
        self.tensorCount = tensorCount
        self.descriptionJSON = descriptionJSON
    }
}

/// What `AdapterCatalog.deleteBase` removed.
public struct BaseDeletion: Hashable, Sendable {
    public var base: BaseRecord
    /// Cached merges computed from the base, removed with it (only when forced).
    public var removedCacheEntries: [CacheEntry]
    /// Blob files removed because nothing else used them.
    public var removedBlobs: [SHA256Digest]
}

/// One page of `AdapterCatalog.listBases`.
public struct BasePage: Hashable, Sendable {
    public var items: [BaseRecord]
    public var total: Int
    public var nextOffset: Int?
}
