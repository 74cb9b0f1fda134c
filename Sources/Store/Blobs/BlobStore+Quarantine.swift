#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension BlobStore {
    /// Where damaged blobs are moved: `<root>/quarantine/<digest>`, kept for an operator to examine
    /// and never read by the service.
    public var quarantineDirectory: String { root.path + "/quarantine" }

    /// Moves a blob that `verify` found damaged out of `blobs/` into `quarantine/`, unless it has
    /// been replaced by a fresh commit since (then it is intact and stays). Returns true when a file
    /// was moved. Durable: both directories are synced.
    func quarantine(_ digest: SHA256Digest) throws(BlobStoreError) -> Bool {
        if try POSIX.makeDirectory(quarantineDirectory) { try POSIX.syncDirectory(root.path) }
        let source = path(for: digest)
        let moved = try state.withLock { state throws(BlobStoreError) -> Bool in
            guard state.knownCorrupt.contains(digest) else { return false }
            guard rename(source, quarantineDirectory + "/" + digest.hex) == 0 else {
                if errno == ENOENT { return false }
                throw POSIX.failure("rename", source)
            }
            state.knownCorrupt.remove(digest)
            state.verified.remove(digest)
            return true
        }
        if moved {
            try POSIX.syncDirectory(quarantineDirectory)
            try POSIX.syncDirectory(NSStringPath(source).deletingLastComponent)
            logger.error("quarantined a damaged blob", metadata: ["digest": "\(digest)", "to": "\(quarantineDirectory)"])
        }
        return moved
    }

    /// Files in `quarantine/`.
    public func quarantinedFiles() throws(BlobStoreError) -> [String] {
        guard try POSIX.fileStatus(quarantineDirectory) != nil else { return [] }
        return try POSIX.listDirectory(quarantineDirectory).sorted()
    }
}

/// The directory part of a path, without Foundation's bridging.
private struct NSStringPath {
    let path: String
    init(_ path: String) { self.path = path }
    var deletingLastComponent: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
