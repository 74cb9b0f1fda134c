import Foundation

/// What `copy(to:preferLinks:)` moved.
public struct CatalogCopyReport: Sendable, Equatable {
    /// Rows copied, by table.
    public var rows: [String: Int] = [:]
    /// Blob files added to the destination's store: linked (no bytes copied) or copied.
    public var blobsLinked = 0
    public var blobsCopied = 0
    /// Blob files the destination already had (a shared directory both catalogs use).
    public var blobsPresent = 0
    public var blobBytes: Int64 = 0
}

extension AdapterCatalog {
    /// The catalog's tables in the order foreign keys allow, each with the columns copied (the same
    /// in both backends' schemas) and the order rows are read in. Identity columns are left out:
    /// the destination numbers `audit_log.sequence` and `squeeze_cache.rowid` itself, in the same
    /// order. A job's lease is not copied: the destination's replicas claim it afresh. Dashboard sessions
    /// (`ui_sessions`) are not copied either: browsers sign in again against the new catalog.
    static let copiedTables: [(name: String, columns: [String], order: String)] = [
        ("blobs", ["digest", "size", "created_at"], "digest"),
        ("adapters", ["digest", "format", "config_digest", "weights_digest", "base_model", "module_count", "total_bytes",
                      "description", "created_at"], "digest"),
        ("names", ["name", "adapter_digest", "updated_at"], "name"),
        ("bases", ["digest", "total_bytes", "tensor_count", "description", "created_at"], "digest"),
        ("base_files", ["base_digest", "path", "blob_digest"], "base_digest, path"),
        ("base_names", ["name", "base_digest", "updated_at"], "name"),
        ("squeeze_cache", ["adapter_digest", "rank", "options", "config_digest", "weights_digest", "bytes", "created_at",
                           "last_used_at", "pinned", "hit_count", "base_digest"], "rowid"),
        ("jobs", ["id", "kind", "state", "request", "progress_done", "progress_total", "result", "error", "created_at",
                  "updated_at", "namespace"], "created_at, id"),
        ("job_items", ["job_id", "position", "subject", "status", "error", "result"], "job_id, position"),
        ("damaged_blobs", ["digest", "actual", "found_at"], "digest"),
        ("tokens", ["id", "secret_hash", "name", "scope", "namespace", "created_at", "expires_at", "last_used_at",
                    "revoked_at"], "id"),
        ("audit_log", ["at", "token_id", "token_name", "namespace", "action", "target", "status", "request_id"], "sequence"),
    ]

    /// Copies this catalog — every row, and every blob a row names — into `destination`, which must
    /// be empty (`lora-squeeze migrate`: a single node's SQLite catalog into a fleet's PostgreSQL).
    ///
    /// Blobs go first, each re-hashed on the way and refused (`CatalogError.corruptRow`) if its
    /// content is not its digest, then every row in one destination transaction: a failure leaves the
    /// destination as empty as it was (blob files it received stay, unreferenced, harmless). The
    /// source is read in one snapshot and never written. Blobs are hard-linked when `preferLinks`
    /// and both stores are on one filesystem, else copied.
    public func copy(to destination: AdapterCatalog, preferLinks: Bool) throws -> CatalogCopyReport {
        let rows: [(String, [String], [[DatabaseValue]])] = try database.read { connection in
            try Self.copiedTables.map { table in
                let values = try connection.query("SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name) ORDER BY \(table.order)") { row in
                    (0..<table.columns.count).map { row.value($0) }
                }
                return (table.name, table.columns, values)
            }
        }
        let occupied = try destination.database.read { connection in
            try connection.queryFirst("""
                SELECT (SELECT count(*) FROM adapters) + (SELECT count(*) FROM bases) + (SELECT count(*) FROM tokens)
                     + (SELECT count(*) FROM jobs) + (SELECT count(*) FROM blobs)
                """) { try $0.column(0) as Int } ?? 0
        }
        guard occupied == 0 else {
            throw CatalogError.invalidConfiguration("the destination catalog (\(destination.location)) is not empty (\(occupied) rows of adapters, bases, tokens, jobs or blobs); copy into an empty one")
        }
        var report = CatalogCopyReport()
        let digests = try (rows.first { $0.0 == "blobs" }?.2 ?? []).map { row in
            guard case .text(let hex) = row[0], let digest = SHA256Digest(hex) else {
                throw CatalogError.corruptRow(table: "blobs", column: "digest", value: "\(row[0])")
            }
            return digest
        }
        for digest in digests {
            if try destination.blobs.contains(digest) {
                report.blobsPresent += 1
                continue
            }
            let source = blobs.path(for: digest)
            guard try blobs.contains(digest) else { throw CatalogError.missingBlob(digest) }
            let sameInodeBefore = try POSIX.fileStatus(source).map { $0.st_ino }
            let adopted = try destination.blobs.adopt(copyOf: source, preferLink: preferLinks)
            guard adopted.digest == digest else {
                _ = try? destination.blobs.delete(adopted.digest)
                throw CatalogError.corruptRow(table: "blobs", column: "digest",
                                              value: "\(digest.hex): the file's content hashes to \(adopted.digest.hex)")
            }
            let linked = try POSIX.fileStatus(destination.blobs.path(for: digest)).map { $0.st_ino } == sameInodeBefore
            if linked { report.blobsLinked += 1 } else { report.blobsCopied += 1 }
            report.blobBytes += adopted.size
        }
        try destination.database.transaction { connection in
            for (table, columns, values) in rows {
                let sql = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
                for row in values { try connection.run(sql, row) }
                report.rows[table] = values.count
            }
        }
        // Every copied blob is now claimed by a row; none waits in memory.
        for digest in digests { destination.blobs.claim(digest) }
        return report
    }
}
