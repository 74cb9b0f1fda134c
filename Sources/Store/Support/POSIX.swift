#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin checked wrappers over the system calls the blob store needs; each failure names its path.
/// (Named unlike the C functions so the C ones stay callable unqualified on Glibc and Darwin.)
enum POSIX {
    static func failure(_ operation: String, _ path: String) -> BlobStoreError {
        .system(operation: operation, path: path, errno: errno)
    }

    /// Opens `path` with `flags` (and O_CLOEXEC), retrying on EINTR.
    static func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(BlobStoreError) -> Int32 {
        while true {
            let fd = open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw failure("open", path) }
        }
    }

    /// Writes all of `bytes`, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(BlobStoreError) {
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = write(fd, base, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw failure("write", path)
            }
            base += written
            remaining -= written
        }
    }

    /// Reads up to `buffer.count` bytes, retrying EINTR; 0 at end of file.
    static func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(BlobStoreError) -> Int {
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw failure("read", path) }
        }
    }

    static func syncFile(_ fd: Int32, path: String) throws(BlobStoreError) {
        while fsync(fd) != 0 {
            if errno != EINTR { throw failure("fsync", path) }
        }
    }

    /// Flushes a directory's entries (a rename, link or unlink in it) to disk.
    static func syncDirectory(_ path: String) throws(BlobStoreError) {
        let fd = try openFile(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try syncFile(fd, path: path)
    }

    /// `lstat` of `path` (a symlink is described, not followed), or nil when nothing is there.
    static func fileStatus(_ path: String) throws(BlobStoreError) -> stat? {
        var info = stat()
        if lstat(path, &info) == 0 { return info }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw failure("stat", path)
    }

    /// Creates a directory; true when it was created, false when it already existed.
    static func makeDirectory(_ path: String) throws(BlobStoreError) -> Bool {
        if mkdir(path, 0o755) == 0 { return true }
        if errno == EEXIST { return false }
        throw failure("mkdir", path)
    }

    /// Removes a file; false when it did not exist.
    @discardableResult
    static func removeFile(_ path: String) throws(BlobStoreError) -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw failure("unlink", path)
    }

    /// The names in a directory, without `.` and `..`; empty when the directory does not exist.
    static func listDirectory(_ path: String) throws(BlobStoreError) -> [String] {
        guard let directory = opendir(path) else {
            if errno == ENOENT { return [] }
            throw failure("opendir", path)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func isRegularFile(_ info: stat) -> Bool { info.st_mode & S_IFMT == S_IFREG }
    static func isDirectory(_ info: stat) -> Bool { info.st_mode & S_IFMT == S_IFDIR }
    /// When the file was last written, in seconds since 1970.
    static func modificationTime(_ info: stat) -> Double { Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9 }
}
