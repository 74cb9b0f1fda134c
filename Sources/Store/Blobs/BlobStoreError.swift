#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the blob store, naming the file at fault.
public enum BlobStoreError: Error, Equatable, CustomStringConvertible {
    /// A system call failed on `path`.
    case system(operation: String, path: String, errno: Int32)
    /// `append`, `commit` or `abort` after the writer was committed or aborted.
    case writerFinished(path: String)
    /// `import(file:)` was given something that is not a regular file (a directory, a symlink, …).
    case notRegularFile(path: String)
    /// No blob with this digest.
    case notFound(SHA256Digest)
    /// Hashing failed.
    case hashing(SHA256Error)

    public var description: String {
        switch self {
        case .system(let operation, let path, let code):
            "blob store: \(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
        case .writerFinished(let path):
            "blob store: the writer for \(path) was already committed or aborted"
        case .notRegularFile(let path):
            "blob store: \(path) is not a regular file"
        case .notFound(let digest):
            "blob store: no blob \(digest)"
        case .hashing(let error):
            "blob store: \(error)"
        }
    }
}
