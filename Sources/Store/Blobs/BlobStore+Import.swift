#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

extension BlobStore {
    /// Moves an existing file into the store as a blob: hashes it, fsyncs it, and links it to its
    /// digest path; the original name is removed. For request bodies already spooled to disk —
    /// spool them into `temporaryDirectory` so this is a link, not a copy. A file on another
    /// filesystem is copied through a `BlobWriter` and then removed.
    ///
    /// The caller must not modify the file while it is imported. A symlink or a directory is refused
    /// with `BlobStoreError.notRegularFile` and left where it is.
    @discardableResult
    public func `import`(file: URL) throws(BlobStoreError) -> StoredBlob {
        let source = file.path
        let fd: Int32
        do { fd = try POSIX.openFile(source, O_RDONLY | O_NOFOLLOW) } catch {
            if case .system(_, _, let code) = error, code == ELOOP { throw .notRegularFile(path: source) }
            throw error
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw POSIX.failure("fstat", source) }
        guard POSIX.isRegularFile(info) else { throw .notRegularFile(path: source) }
        let (digest, size) = try Self.hash(fd, path: source)
        guard fchmod(fd, 0o444) == 0 else { throw POSIX.failure("fchmod", source) }
        try POSIX.syncFile(fd, path: source)
        do {
            try install(temporaryPath: source, digest: digest, size: size)
            return StoredBlob(digest: digest, size: size)
        } catch .system(let operation, _, let code) where operation == "link" && code == EXDEV {
            return try copy(fd, from: source)
        }
    }

    /// Copies what `fd` holds into a new blob, then removes `source`.
    private func copy(_ fd: Int32, from source: String) throws(BlobStoreError) -> StoredBlob {
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw POSIX.failure("lseek", source) }
        let writer = try makeWriter()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readChunkBytes, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try POSIX.readSome(fd, into: buffer, path: source)
            if count == 0 { break }
            try writer.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
        let blob = try writer.commit()
        try POSIX.removeFile(source)
        return blob
    }
}

extension BlobStore {
    /// Adds a copy of another store's file as a blob, leaving `source` as it is (`lora-squeeze
    /// migrate`): a hard link into `tmp/` then `import` when `preferLink` and both are on one
    /// filesystem (no bytes copied; the file is hashed all the same), else a copy through a writer.
    /// Either way the blob is named by the SHA-256 of what was read, so the caller compares it with
    /// the digest it expected.
    public func adopt(copyOf source: String, preferLink: Bool) throws(BlobStoreError) -> StoredBlob {
        if preferLink {
            let temporary = temporaryDirectory.path + "/adopt-" + RandomHex.make(words: 1)
            if link(source, temporary) == 0 { return try `import`(file: URL(fileURLWithPath: temporary)) }
            guard errno == EXDEV || errno == EPERM else { throw POSIX.failure("link", source) }
        }
        let fd = try POSIX.openFile(source, O_RDONLY | O_NOFOLLOW)
        defer { close(fd) }
        let writer = try makeWriter()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readChunkBytes, alignment: 16)
        defer { buffer.deallocate() }
        do {
            while true {
                let count = try POSIX.readSome(fd, into: buffer, path: source)
                if count == 0 { break }
                try writer.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
            return try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }
}
