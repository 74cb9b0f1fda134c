import Foundation

extension AdapterCatalog {
    /// What `quarantine` did about a damaged blob.
    public struct QuarantineReport: Hashable, Sendable {
        /// Cache entries that used the blob; they were removed, and are recomputed when asked for.
        public var removedCacheEntries: [CacheKey] = []
        /// Adapters that use the blob; they are marked damaged (`AdapterRecord.damaged`).
        public var damagedAdapters: [SHA256Digest] = []
        /// Base models that use the blob; they are marked damaged (`BaseRecord.damaged`).
        public var damagedBases: [SHA256Digest] = []
        /// Whether the file was moved to `quarantine/` (false when it was gone or replaced already).
        public var moved = false
    }

    /// Deals with a blob `blobs.verify` found damaged (`actual` is what its content hashes to): cache
    /// entries using it are removed, adapters using it are marked damaged until the same content is
    /// uploaded again, and the file moves to `quarantine/`. The rows change first (committed), then
    /// the file moves, under the database lock: a crash in between leaves the damage recorded and the
    /// file where the next scrub finds it again.
    @discardableResult
    public func quarantine(_ digest: SHA256Digest, actual: SHA256Digest?) throws -> QuarantineReport {
        var report = QuarantineReport()
        try write { connection, effects in
            let entries = try connection.query("""
                SELECT \(Self.cacheColumns) FROM squeeze_cache WHERE config_digest = ?1 OR weights_digest = ?1
                """, [digest.hex]) { try cacheEntryRow($0) }
            for entry in entries {
                try connection.run("DELETE FROM squeeze_cache WHERE adapter_digest = ? AND rank = ? AND options = ?",
                                   [entry.key.adapter.hex, entry.key.rank, entry.key.options])
                effects.released += [entry.configBlob, entry.weightsBlob].compactMap { $0 }.filter { $0 != digest }
            }
            report.removedCacheEntries = entries.map(\.key)
            report.damagedAdapters = try connection.query("""
                SELECT digest FROM adapters WHERE config_digest = ?1 OR weights_digest = ?1 ORDER BY digest
                """, [digest.hex]) { try self.digest($0, 0, table: "adapters", column: "digest") }
            report.damagedBases = try connection.query("""
                SELECT DISTINCT base_digest FROM base_files WHERE blob_digest = ? ORDER BY base_digest
                """, [digest.hex]) { try self.digest($0, 0, table: "base_files", column: "base_digest") }
            if report.damagedAdapters.isEmpty && report.damagedBases.isEmpty {
                try connection.run("DELETE FROM blobs WHERE digest = ?", [digest.hex])
            } else {
                try connection.run("""
                    INSERT INTO damaged_blobs (digest, actual, found_at) VALUES (?, ?, ?)
                    ON CONFLICT (digest) DO UPDATE SET actual = excluded.actual, found_at = excluded.found_at
                    """, [digest.hex, actual?.hex, now()])
            }
            effects.quarantined = [digest]
        }.0
        report.moved = quarantineMoves.withLock { $0.removeValue(forKey: digest) } ?? false
        logger.error("a damaged blob was quarantined",
                     metadata: ["digest": "\(digest)", "actual": "\(actual?.hex ?? "unknown")",
                                "cache_entries_removed": "\(report.removedCacheEntries.count)",
                                "adapters_damaged": "\(report.damagedAdapters.map(\.hex))"])
        return report
    }

    /// Blobs marked damaged, with what they hashed to and when.
    public func damagedBlobs() throws -> [(digest: SHA256Digest, actual: SHA256Digest?, foundAt: Date)] {
        try database.read { connection in
            try connection.query("SELECT digest, actual, found_at FROM damaged_blobs ORDER BY found_at, digest") { row in
                (try digest(row, 0, table: "damaged_blobs", column: "digest"),
                 try optionalDigest(row, 1, table: "damaged_blobs", column: "actual"),
                 Date(timeIntervalSince1970: try row.column(2)))
            }
        }
    }

    /// Blobs this process committed that will not be recorded after all (the step after the commit
    /// failed or was abandoned): each is released, and its file removed unless a row or another
    /// pending commit uses it. Never throws: a file it cannot remove is an orphan for the next start.
    public func abandon(_ digests: [SHA256Digest]) {
        guard !digests.isEmpty else { return }
        do { try database.withConnection { releaseUnrecorded(digests, $0) } } catch {
            logger.warning("could not drop blobs that were committed but not recorded",
                           metadata: ["digests": "\(digests.map(\.hex))", "error": "\(error)"])
        }
    }

    /// Releases this process's pending commits of `digests` and removes each file no row records
    /// (another pending commit of the same content keeps it). Call under the database lock. A failure
    /// leaves an orphan for the next start's collection, never a missing blob.
    func releaseUnrecorded(_ digests: [SHA256Digest], _ connection: any DatabaseConnection) {
        for digest in digests {
            blobs.claim(digest)
            let recorded: Bool
            do {
                recorded = try connection.queryFirst("SELECT 1 FROM blobs WHERE digest = ?", [digest.hex]) { _ in true } ?? false
            } catch {
                continue   // cannot tell: keep the file (an orphan at worst)
            }
            if !recorded { _ = try? blobs.removeUnlessAwaitingClaim(digest) }
        }
    }
}

extension AdapterCatalog {
    /// A recorded blob's size and whether it is marked damaged; nil when no row refers to it.
    public func blobInfo(_ digest: SHA256Digest) throws -> (size: Int64, damaged: Bool)? {
        try database.read { connection in
            try connection.queryFirst("""
                SELECT size, EXISTS (SELECT 1 FROM damaged_blobs d WHERE d.digest = b.digest) FROM blobs b WHERE b.digest = ?
                """, [digest.hex]) { (try $0.column(0) as Int64, try $0.column(1) as Bool) }
        }
    }
}
