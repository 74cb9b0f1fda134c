#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension BlobStore {
    /// Rehashes the blob and compares the result with its name.
    ///
    /// A corrupt blob is remembered, so that committing the same content again replaces it.
    /// `pace(bytes)` runs after each chunk read (`readChunkBytes`); a background scrub sleeps in it
    /// to keep its reads to a rate, and may throw to stop.
    public func verify(_ digest: SHA256Digest, pace: ((Int) throws(BlobStoreError) -> Void)? = nil) throws(BlobStoreError) -> BlobVerification {
        let path = path(for: digest)
        let fd: Int32
        do { fd = try POSIX.openFile(path, O_RDONLY | O_NOFOLLOW) } catch {
            if case .system(_, _, let code) = error, code == ENOENT || code == ENOTDIR { return .missing }
            throw error
        }
        defer { close(fd) }
        let (actual, size) = try Self.hash(fd, path: path, pace: pace)
        let intact = actual == digest
        state.withLock { state in
            if intact {
                state.verified.insert(digest)
                state.knownCorrupt.remove(digest)
            } else {
                state.verified.remove(digest)
                state.knownCorrupt.insert(digest)
            }
        }
        guard intact else {
            logger.error("blob content does not match its digest",
                         metadata: ["digest": "\(digest)", "actual": "\(actual)", "path": "\(path)"])
            return .corrupt(actual: actual, size: size)
        }
        return .intact(size: size)
    }

    /// Rehashes the blob the first time this process serves it (a cold read), and trusts it after
    /// that; a blob found corrupt is rehashed every time.
    public func verifyIfCold(_ digest: SHA256Digest) throws(BlobStoreError) -> BlobVerification {
        if state.withLock({ $0.verified.contains(digest) }) {
            guard let size = try size(of: digest) else { return .missing }
            return .intact(size: size)
        }
        return try verify(digest)
    }

    /// Rehashes every blob. Reads everything: run it in the background.
    public func scrub() throws(BlobStoreError) -> BlobScrubReport {
        let (digests, stray) = try inventory()
        var report = BlobScrubReport(strayFiles: stray)
        for digest in digests {
            switch try verify(digest) {
            case .intact(let size):
                report.bytes += size
            case .corrupt(let actual, let size):
                report.bytes += size
                report.corrupt.append(CorruptBlob(digest: digest, actual: actual, size: size))
            case .missing:
                continue  // deleted while the scrub ran
            }
            report.checked += 1
        }
        for path in stray { logger.warning("a file in blobs/ is not named by a digest", metadata: ["path": "\(path)"]) }
        return report
    }

    /// The SHA-256 and length of everything from `fd`'s current offset to the end.
    static func hash(_ fd: Int32, path: String, pace: ((Int) throws(BlobStoreError) -> Void)? = nil) throws(BlobStoreError) -> (SHA256Digest, Int64) {
        var hasher: SHA256
        do { hasher = try SHA256() } catch { throw .hashing(error) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readChunkBytes, alignment: 16)
        defer { buffer.deallocate() }
        var size: Int64 = 0
        while true {
            let count = try POSIX.readSome(fd, into: buffer, path: path)
            if count == 0 { break }
            do { try hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count])) } catch { throw .hashing(error) }
            size += Int64(count)
            try pace?(count)
        }
        do { return (try hasher.finalize(), size) } catch { throw .hashing(error) }
    }
}
