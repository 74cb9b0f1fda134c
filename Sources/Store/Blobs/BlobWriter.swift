#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writes one new blob: append bytes as they arrive (they are hashed on the way to the temp file),
/// then `commit()` to install it under its digest, or `abort()` to drop it.
///
/// A writer that is released without either is aborted. A failed `append` aborts the writer too
/// (the file and the hash could disagree), so later calls throw `BlobStoreError.writerFinished`.
/// Not `Sendable`: one task feeds one writer.
public final class BlobWriter {
    /// The temp file in the store's `tmp/`.
    public let temporaryPath: String
    /// Bytes appended so far.
    public private(set) var byteCount: Int64 = 0

    private let store: BlobStore
    private var hasher: SHA256?
    private var descriptor: Int32

    init(store: BlobStore) throws(BlobStoreError) {
        let directory = store.temporaryDirectory.path
        var template = Array("\(directory)/blob-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw POSIX.failure("mkstemp in", directory) }
        // Close-on-exec, so a process the server starts never holds a blob being written (mkostemp,
        // which would set it atomically, is not exported by Glibc's Swift module).
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do {
            hasher = try SHA256()
        } catch {
            close(fd)
            unlink(path)
            throw .hashing(error)
        }
        self.store = store
        self.descriptor = fd
        self.temporaryPath = path
    }

    deinit { abort() }

    /// Appends bytes to the blob.
    public func append(_ bytes: UnsafeRawBufferPointer) throws(BlobStoreError) {
        guard descriptor >= 0, hasher != nil else { throw .writerFinished(path: temporaryPath) }
        do throws(BlobStoreError) {
            try POSIX.writeAll(descriptor, bytes, path: temporaryPath)
            do { try hasher!.update(bytes) } catch { throw BlobStoreError.hashing(error) }
        } catch {
            abort()
            throw error
        }
        byteCount += Int64(bytes.count)
    }

    /// Appends bytes to the blob.
    public func append(_ bytes: some ContiguousBytes) throws(BlobStoreError) {
        let result: Result<Void, BlobStoreError> = bytes.withUnsafeBytes { raw in
            Result { () throws(BlobStoreError) in try append(raw) }
        }
        try result.get()
    }

    /// Makes the blob durable and installs it under its digest: fsync the temp file, link it to
    /// `blobs/ab/cdef…` (keeping an existing blob of the same digest and dropping the temp), fsync
    /// the directory. Returns the digest and size. The writer is finished afterwards, even on error.
    public func commit() throws(BlobStoreError) -> StoredBlob {
        guard descriptor >= 0, let hasher = hasher.take() else { throw .writerFinished(path: temporaryPath) }
        let fd = descriptor
        descriptor = -1
        do throws(BlobStoreError) {
            defer { close(fd) }
            guard fchmod(fd, 0o444) == 0 else { throw POSIX.failure("fchmod", temporaryPath) }
            try POSIX.syncFile(fd, path: temporaryPath)
        } catch {
            unlink(temporaryPath)
            throw error
        }
        let digest: SHA256Digest
        do { digest = try hasher.finalize() } catch {
            unlink(temporaryPath)
            throw .hashing(error)
        }
        do {
            try store.install(temporaryPath: temporaryPath, digest: digest, size: byteCount)
        } catch {
            unlink(temporaryPath)
            throw error
        }
        return StoredBlob(digest: digest, size: byteCount)
    }

    /// Drops the blob and removes its temp file. Does nothing once committed or aborted.
    public func abort() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        hasher = nil
        unlink(temporaryPath)
    }
}
