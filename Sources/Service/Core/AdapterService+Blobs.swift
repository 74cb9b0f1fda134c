import Store

extension AdapterService {
    /// Checks a blob before its bytes are used: rehashed on its first read since start (then
    /// trusted), on every path that reads stored bytes. Blocking: call it on the I/O or compute pool.
    ///
    /// - Damaged: the blob is quarantined (`AdapterCatalog.quarantine`); an adapter's blob throws
    ///   `BlobDamaged` (500 `blob-damaged`), a cache entry's throws `BlobMissing`, so the squeeze is
    ///   computed again from its (verified) source.
    /// - Missing (evicted or deleted since its row was read): `BlobMissing`.
    func checkBlob(_ digest: SHA256Digest, of adapter: AdapterRecord?) throws {
        switch try catalog.blobs.verifyIfCold(digest) {
        case .intact:
            return
        case .missing:
            throw BlobMissing(digest: digest)
        case let .corrupt(actual, size):
            metrics.blobDamaged(foundBy: "read")
            logger.error("a stored file does not match its digest", metadata: [
                "digest": "\(digest.hex)", "actual": "\(actual.hex)", "bytes": "\(size)",
                "adapter": "\(adapter?.digest.hex ?? "-")"])
            let report = try catalog.quarantine(digest, actual: actual)
            if let damaged = adapter?.digest ?? report.damagedAdapters.first {
                throw BlobDamaged(blob: digest, adapter: damaged)
            }
            throw BlobMissing(digest: digest)
        }
    }
}
