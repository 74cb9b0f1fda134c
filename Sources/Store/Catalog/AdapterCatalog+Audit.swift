import Foundation

extension AdapterCatalog {
    /// The most audit entries one page may hold.
    public static let maxAuditPage = 1000

    /// Appends one entry (its `sequence` is assigned); action and target are cut to
    /// `AuditEntry.maxTextBytes` on a character boundary.
    public func appendAudit(_ entry: AuditEntry) throws {
        func cut(_ text: String) -> String {
            guard text.utf8.count > AuditEntry.maxTextBytes else { return text }
            var out = ""
            for c in text {
                guard out.utf8.count + c.utf8.count <= AuditEntry.maxTextBytes else { break }
                out.append(c)
            }
            return out
        }
        _ = try database.transaction { connection in
            try connection.run("""
                INSERT INTO audit_log (at, token_id, token_name, namespace, action, target, status, request_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [entry.time.timeIntervalSince1970, entry.tokenID?.rawValue, entry.tokenName, entry.namespace,
                      cut(entry.action), cut(entry.target), entry.status, entry.requestID])
        }
    }

    /// Up to `limit` entries, newest first, with a sequence below `before` when given, of `namespace`
    /// when given.
    public func auditEntries(limit: Int, before: Int64? = nil, namespace: String? = nil) throws -> [AuditEntry] {
        guard (1...Self.maxAuditPage).contains(limit) else {
            throw CatalogError.invalidQuery("limit \(limit) is outside 1...\(Self.maxAuditPage)")
        }
        return try database.read { connection in
            try connection.query("""
                SELECT sequence, at, token_id, token_name, namespace, action, target, status, request_id FROM audit_log
                WHERE (?1 IS NULL OR sequence < ?1) AND (?2 IS NULL OR namespace = ?2)
                ORDER BY sequence DESC LIMIT ?3
                """, [before, namespace, limit]) { row in
                let tokenText = try row.column(2) as String?
                let tokenID = try tokenText.map { text in
                    guard let id = try? TokenID(validating: text) else {
                        throw CatalogError.corruptRow(table: "audit_log", column: "token_id", value: text)
                    }
                    return id
                }
                return AuditEntry(sequence: try row.column(0), time: Date(timeIntervalSince1970: try row.column(1)),
                                  tokenID: tokenID, tokenName: try row.column(3), namespace: try row.column(4),
                                  action: try row.column(5), target: try row.column(6), status: try row.column(7),
                                  requestID: try row.column(8))
            }
        }
    }

    /// Keeps the newest `keep` entries; returns how many were removed.
    @discardableResult
    public func pruneAudit(keep: Int) throws -> Int {
        try database.transaction { connection in
            try connection.run("""
                DELETE FROM audit_log WHERE sequence <= (SELECT max(sequence) FROM audit_log) - ?
                """, [max(0, keep)])
        }
    }

    /// Whether `digest` is a file of an adapter named in `namespace`, of a cached squeeze of one, or of
    /// a base model named in it:
    /// what a namespace-limited token may fetch by `/v1/blobs/{digest}`.
    public func blobVisible(_ digest: SHA256Digest, namespace: String) throws -> Bool {
        let low = namespace + "/", high = namespace + "/~"
        return try database.read { connection in
            try connection.queryFirst("""
                SELECT 1 FROM names n WHERE n.name >= ?2 AND n.name < ?3 AND n.adapter_digest IN (
                    SELECT digest FROM adapters WHERE config_digest = ?1 OR weights_digest = ?1
                    UNION SELECT adapter_digest FROM squeeze_cache WHERE config_digest = ?1 OR weights_digest = ?1)
                UNION ALL SELECT 1 FROM base_names b WHERE b.name >= ?2 AND b.name < ?3 AND b.base_digest IN (
                    SELECT base_digest FROM base_files WHERE blob_digest = ?1)
                LIMIT 1
                """, [digest.hex, low, high]) { _ in true } ?? false
        }
    }
}
