#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Locking
import Logging

/// Content-addressed files named by their SHA-256: `<root>/blobs/ab/cdef…` (the first two hex
/// characters name a shard directory, the other 62 the file), with writers' temporary files in
/// `<root>/tmp/`.
///
/// A blob is written once and never rewritten in place: temp file → fsync → hard link to its
/// digest path (which fails rather than overwrite an existing blob) → unlink the temp → fsync of the
/// directory. Files are made read-only (0444). A crash at any point leaves either the complete blob
/// or a temp file, which `cleanTemporaryFiles()` removes at start-up.
///
/// Safe to use from many tasks: writers are independent, and the step that installs or removes a
/// blob file holds one lock. The store remembers, in memory, blobs committed by this process that no
/// catalog row has yet claimed; `AdapterCatalog` never deletes those, so an upload racing the delete
/// of another adapter with the same content cannot lose its blob between `commit()` and `put`.
public final class BlobStore: Sendable {
    /// The directory holding `blobs/` and `tmp/`.
    public let root: URL
    /// Where committed blobs live.
    public let blobsDirectory: URL
    /// Where writers' temporary files live; spool request bodies here so `import(file:)` can move
    /// them in with a link instead of a copy (same filesystem).
    public let temporaryDirectory: URL

    /// Bytes read at a time when hashing a file.
    public static let readChunkBytes = 1 << 20

    let logger: Logger
    let state = Locked(State())

    struct State {
        /// Blobs committed by this process and not yet referenced by a catalog row, with a count of
        /// the commits waiting to be referenced.
        var unclaimedCommits: [SHA256Digest: Int] = [:]
        /// Blobs `verify` found damaged; a commit of the same digest replaces them.
        var knownCorrupt: Set<SHA256Digest> = []
        /// Blobs `verify` found intact since this process started.
        var verified: Set<SHA256Digest> = []
    }

    /// Opens the store at `root`, creating `root`, `blobs/` and `tmp/` as needed. Does not clean
    /// `tmp/`: call `cleanTemporaryFiles()` at start-up, before any writer exists.
    ///
    /// - Parameter replica: on a blob directory several processes share (`--blobs` on a volume
    ///   every replica mounts), this process's own name: its temporary files go to `tmp/<replica>/`,
    ///   so cleaning them at start-up never touches another replica's upload in progress. Installing
    ///   a blob is a `link(2)` of a finished temp file into `blobs/`, atomic and never clobbering,
    ///   so two replicas committing the same content at once both succeed with one file.
    public init(root: URL, replica: String? = nil, logger: Logger) throws(BlobStoreError) {
        self.root = root.standardizedFileURL
        self.blobsDirectory = self.root.appendingPathComponent("blobs", isDirectory: true)
        let shared = self.root.appendingPathComponent("tmp", isDirectory: true)
        self.temporaryDirectory = replica.map { shared.appendingPathComponent($0, isDirectory: true) } ?? shared
        self.logger = logger
        try Self.makeDirectories(self.root.path)
        var created = try POSIX.makeDirectory(blobsDirectory.path)
        created = try POSIX.makeDirectory(shared.path) || created
        if created { try POSIX.syncDirectory(self.root.path) }
        if replica != nil, try POSIX.makeDirectory(temporaryDirectory.path) { try POSIX.syncDirectory(shared.path) }
    }

    // MARK: Reading

    /// The file path of `digest` (whether or not the blob exists).
    public func path(for digest: SHA256Digest) -> String {
        let hex = digest.hex
        return blobsDirectory.path + "/" + hex.prefix(2) + "/" + hex.dropFirst(2)
    }

    /// The file URL of `digest` (whether or not the blob exists).
    public func url(for digest: SHA256Digest) -> URL { URL(fileURLWithPath: path(for: digest)) }

    /// True when the blob's file exists.
    public func contains(_ digest: SHA256Digest) throws(BlobStoreError) -> Bool {
        try size(of: digest) != nil
    }

    /// The blob's size in bytes, or nil when it does not exist.
    public func size(of digest: SHA256Digest) throws(BlobStoreError) -> Int64? {
        guard let info = try POSIX.fileStatus(path(for: digest)), POSIX.isRegularFile(info) else { return nil }
        return Int64(info.st_size)
    }

    /// Every blob digest on disk, in no particular order.
    public func digests() throws(BlobStoreError) -> [SHA256Digest] { try inventory().digests }

    // MARK: Writing

    /// A writer for a new blob, backed by a fresh temp file in `tmp/`.
    public func makeWriter() throws(BlobStoreError) -> BlobWriter { try BlobWriter(store: self) }

    /// Writes `bytes` as a blob in one call.
    @discardableResult
    public func write(_ bytes: some ContiguousBytes) throws(BlobStoreError) -> StoredBlob {
        let writer = try makeWriter()
        let result: Result<Void, BlobStoreError> = bytes.withUnsafeBytes { raw in
            Result { () throws(BlobStoreError) in try writer.append(raw) }
        }
        try result.get()
        return try writer.commit()
    }

    // MARK: Removing

    /// Removes a blob's file; false when there was none. The caller must know no row refers to it
    /// (`AdapterCatalog` removes the blobs it no longer references itself).
    @discardableResult
    public func delete(_ digest: SHA256Digest) throws(BlobStoreError) -> Bool {
        let path = path(for: digest)
        return try state.withLock { state throws(BlobStoreError) in
            state.unclaimedCommits[digest] = nil
            state.knownCorrupt.remove(digest)
            state.verified.remove(digest)
            return try POSIX.removeFile(path)
        }
    }

    /// Removes every file in `tmp/`: what writers left when the process died. Call at start-up,
    /// before any writer exists (it would remove a live writer's file). Returns how many it removed.
    @discardableResult
    public func cleanTemporaryFiles() throws(BlobStoreError) -> Int {
        var removed = 0
        for name in try POSIX.listDirectory(temporaryDirectory.path) {
            let path = temporaryDirectory.path + "/" + name
            guard let info = try POSIX.fileStatus(path), !POSIX.isDirectory(info) else {
                logger.warning("left a directory in the blob store's tmp/", metadata: ["path": "\(path)"])
                continue
            }
            if try POSIX.removeFile(path) { removed += 1 }
        }
        if removed > 0 {
            logger.info("removed temporary files left by an earlier run", metadata: ["count": "\(removed)"])
        }
        return removed
    }

    /// How long a file in another replica's `tmp/<replica>/` must have gone unwritten before it
    /// counts as abandoned: a live upload writes its file as bytes arrive, and the server cuts a
    /// body idle for 30 s, so an hour without a write is a replica that died mid-upload.
    public static let abandonedTemporaryFileAge: TimeInterval = 3600

    /// On a shared blob directory: removes files in other replicas' temporary directories not
    /// written for `age` seconds (their replica died mid-upload; a pod's name is never reused, so
    /// nothing else would). The directories stay: an empty one may be a live replica's that has
    /// not uploaded anything yet. Returns how many files it removed.
    @discardableResult
    public func cleanAbandonedTemporaryFiles(olderThan age: TimeInterval = abandonedTemporaryFileAge,
                                             now: Date = Date()) throws(BlobStoreError) -> Int {
        let shared = root.appendingPathComponent("tmp", isDirectory: true).path
        guard temporaryDirectory.path != shared else { return 0 }   // not on shared storage
        let own = temporaryDirectory.lastPathComponent
        var removed = 0
        for replica in try POSIX.listDirectory(shared) where replica != own {
            let directory = shared + "/" + replica
            guard let info = try POSIX.fileStatus(directory), POSIX.isDirectory(info) else { continue }
            for name in try POSIX.listDirectory(directory) {
                let path = directory + "/" + name
                guard let file = try POSIX.fileStatus(path), !POSIX.isDirectory(file) else { continue }
                if now.timeIntervalSince1970 - POSIX.modificationTime(file) > age, try POSIX.removeFile(path) { removed += 1 }
            }
        }
        if removed > 0 {
            logger.info("removed temporary files abandoned by other replicas", metadata: ["count": "\(removed)"])
        }
        return removed
    }

    // MARK: Internals shared with BlobWriter, import and AdapterCatalog

    /// Moves a fully written, fsynced, read-only temp file to its digest path and fsyncs the shard
    /// directory. An existing intact blob is kept and the temp file dropped (same digest, same
    /// content); an existing blob that `verify` found corrupt, or whose size differs, is replaced.
    func install(temporaryPath: String, digest: SHA256Digest, size: Int64) throws(BlobStoreError) {
        let shard = blobsDirectory.path + "/" + digest.hex.prefix(2)
        if try POSIX.makeDirectory(shard) { try POSIX.syncDirectory(blobsDirectory.path) }
        let destination = path(for: digest)
        try state.withLock { state throws(BlobStoreError) in
            if link(temporaryPath, destination) == 0 {
                try POSIX.removeFile(temporaryPath)
                // Its digest was computed from the very bytes just written: no need to rehash on first read.
                state.verified.insert(digest)
            } else if errno == EEXIST {
                let existing = try POSIX.fileStatus(destination)
                if state.knownCorrupt.contains(digest) || existing.map({ Int64($0.st_size) != size }) ?? true {
                    guard rename(temporaryPath, destination) == 0 else { throw POSIX.failure("rename", destination) }
                    state.knownCorrupt.remove(digest)
                    state.verified.insert(digest)
                    logger.warning("replaced a damaged blob with a fresh copy", metadata: ["digest": "\(digest)"])
                } else {
                    try POSIX.removeFile(temporaryPath)
                    // Its modification time now says "committed just now": on a shared directory,
                    // another replica's sweep of unreferenced files leaves a recently touched one be
                    // (`AdapterCatalog.removeOrphanBlobs(olderThan:)`) until this commit's row exists.
                    _ = utimensat(AT_FDCWD, destination, nil, 0)
                }
            } else {
                throw POSIX.failure("link", destination)
            }
            state.unclaimedCommits[digest, default: 0] += 1
        }
        try POSIX.syncDirectory(shard)
    }

    /// When the blob's file was last written or committed again (its modification time), or nil
    /// when there is no file.
    func lastCommitted(_ digest: SHA256Digest) throws(BlobStoreError) -> Date? {
        guard let info = try POSIX.fileStatus(path(for: digest)) else { return nil }
        return Date(timeIntervalSince1970: POSIX.modificationTime(info))
    }

    /// Marks one commit of `digest` as referenced by a catalog row.
    func claim(_ digest: SHA256Digest) {
        state.withLock { state in
            guard let count = state.unclaimedCommits[digest] else { return }
            state.unclaimedCommits[digest] = count > 1 ? count - 1 : nil
        }
    }

    /// Removes the blob unless this process committed it and no row has claimed it yet.
    /// Returns true when a file was removed.
    func removeUnlessAwaitingClaim(_ digest: SHA256Digest) throws(BlobStoreError) -> Bool {
        let path = path(for: digest)
        return try state.withLock { state throws(BlobStoreError) in
            guard state.unclaimedCommits[digest] == nil else { return false }
            state.knownCorrupt.remove(digest)
            state.verified.remove(digest)
            return try POSIX.removeFile(path)
        }
    }

    /// Digests of the files under `blobs/`, and the paths of files there that are not blobs.
    func inventory() throws(BlobStoreError) -> (digests: [SHA256Digest], strayFiles: [String]) {
        var digests: [SHA256Digest] = []
        var stray: [String] = []
        for shard in try POSIX.listDirectory(blobsDirectory.path).sorted() {
            let shardPath = blobsDirectory.path + "/" + shard
            guard let info = try POSIX.fileStatus(shardPath), POSIX.isDirectory(info) else {
                stray.append(shardPath)
                continue
            }
            for name in try POSIX.listDirectory(shardPath).sorted() {
                if let digest = SHA256Digest(shard + name), shard.utf8.count == 2 {
                    digests.append(digest)
                } else {
                    stray.append(shardPath + "/" + name)
                }
            }
        }
        return (digests, stray)
    }

    private static func makeDirectories(_ path: String) throws(BlobStoreError) {
        if let info = try POSIX.fileStatus(path) {
            guard POSIX.isDirectory(info) else { throw .system(operation: "mkdir", path: path, errno: ENOTDIR) }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeDirectories(parent) }
        _ = try POSIX.makeDirectory(path)
    }
}
