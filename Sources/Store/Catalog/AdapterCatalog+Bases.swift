import Foundation

extension AdapterCatalog {
    /// Stores a base model whose blobs are already committed, and points `name` at it if given, in
    /// one transaction. Idempotent like `put`: the same digest again returns the stored record with
    /// `created: false` (moving `name` to it, repairing damage the fresh blobs mend).
    public func putBase(_ base: NewBase, name: AdapterName? = nil) throws -> (base: BaseRecord, created: Bool) {
        guard !base.files.isEmpty else { throw CatalogError.invalidBase(base.digest, "a base model needs files") }
        guard base.tensorCount >= 0 else { throw CatalogError.invalidBase(base.digest, "tensor count \(base.tensorCount) is negative") }
        let blobDigests = Array(Set(base.files.values)).sorted()
        return try write { connection, effects in
            effects.claimed = blobDigests
            if var existing = try fetchBase(base.digest, connection) {
                effects.released = blobDigests
                if existing.damaged {
                    for digest in blobDigests where try blobs.contains(digest) {
                        try connection.run("DELETE FROM damaged_blobs WHERE digest = ?", [digest.hex])
                    }
                }
                if let name { try upsertBaseName(name, base.digest, connection) }
                existing = try fetchBase(base.digest, connection) ?? existing
                return (existing, false)
            }
            var total: Int64 = 0
            var sizes: [SHA256Digest: Int64] = [:]
            for digest in blobDigests { sizes[digest] = try registerBlob(digest, connection) }
            try connection.run("""
                INSERT INTO bases (digest, total_bytes, tensor_count, description, created_at) VALUES (?, 0, ?, ?, ?)
                """, [base.digest.hex, base.tensorCount, base.descriptionJSON, now()])
            for (path, blob) in base.files.sorted(by: { $0.key < $1.key }) {
                try connection.run("INSERT INTO base_files (base_digest, path, blob_digest) VALUES (?, ?, ?)",
                                   [base.digest.hex, path, blob.hex])
                total += sizes[blob] ?? 0
            }
            try connection.run("UPDATE bases SET total_bytes = ? WHERE digest = ?", [total, base.digest.hex])
            if let name { try upsertBaseName(name, base.digest, connection) }
            guard let stored = try fetchBase(base.digest, connection) else { throw CatalogError.unknownBase(base.digest.hex) }
            return (stored, true)
        }.0
    }

    /// The base a digest or name refers to; `CatalogError.unknownBase` when there is none.
    public func base(_ reference: AdapterReference) throws -> BaseRecord {
        try database.read { connection in
            guard let digest = try resolveBaseDigest(reference, connection), let record = try fetchBase(digest, connection) else {
                throw CatalogError.unknownBase(reference.description)
            }
            return record
        }
    }

    /// A page of base models, newest first; `namespace` limits it to bases with a name in it.
    public func listBases(limit: Int, offset: Int, namespace: String? = nil) throws -> BasePage {
        guard (1...AdapterQuery.maxLimit).contains(limit), offset >= 0 else {
            throw CatalogError.invalidQuery("limit must be 1...\(AdapterQuery.maxLimit) and offset at least 0")
        }
        let scope = namespace.map { $0 + "/" }
        let filter = """
            WHERE ?1 IS NULL OR EXISTS (SELECT 1 FROM base_names n WHERE n.base_digest = b.digest AND n.name >= ?1 AND n.name < ?2)
            """
        let filters: [any DatabaseBindable] = [scope, scope.map { $0 + "~" }]
        return try database.read { connection in
            let total = try connection.queryFirst("SELECT count(*) FROM bases b \(filter)", filters) { try $0.column(0) as Int } ?? 0
            let digests = try connection.query("""
                SELECT b.digest FROM bases b \(filter) ORDER BY b.created_at DESC, b.digest LIMIT ?3 OFFSET ?4
                """, filters + [limit, offset]) { try digest($0, 0, table: "bases", column: "digest") }
            let items = try digests.compactMap { try fetchBase($0, connection) }
            let next = offset + items.count
            return BasePage(items: items, total: total, nextOffset: next < total && !items.isEmpty ? next : nil)
        }
    }

    /// The cached merges computed from a base.
    public func cacheEntries(base: SHA256Digest) throws -> [CacheEntry] {
        try database.read { connection in
            try connection.query("SELECT \(Self.cacheColumns) FROM squeeze_cache WHERE base_digest = ? ORDER BY rowid",
                                 [base.hex]) { try cacheEntryRow($0) }
        }
    }

    /// Deletes a base with its names; refused with `CatalogError.baseInUse` while cached merges
    /// depend on it, unless `force` (then they go too). Blob files nothing else uses are removed.
    @discardableResult
    public func deleteBase(_ reference: AdapterReference, force: Bool = false,
                           onlyIfAllNamesIn namespace: String? = nil) throws -> BaseDeletion {
        let (deletion, removed) = try write { connection, effects in
            guard let digest = try resolveBaseDigest(reference, connection), let record = try fetchBase(digest, connection) else {
                throw CatalogError.unknownBase(reference.description)
            }
            if let namespace, !record.names.allSatisfy({ $0.isIn(namespace: namespace) }) {
                throw CatalogError.baseNamesOutsideNamespace(digest, namespace: namespace)
            }
            let entries = try connection.query("SELECT \(Self.cacheColumns) FROM squeeze_cache WHERE base_digest = ?",
                                               [digest.hex]) { try cacheEntryRow($0) }
            guard force || entries.isEmpty else { throw CatalogError.baseInUse(digest, cacheEntries: entries.count) }
            try connection.run("DELETE FROM squeeze_cache WHERE base_digest = ?", [digest.hex])
            try connection.run("DELETE FROM bases WHERE digest = ?", [digest.hex])
            effects.released = record.files.map(\.blob) + entries.flatMap { [$0.configBlob, $0.weightsBlob].compactMap { $0 } }
            return BaseDeletion(base: record, removedCacheEntries: entries, removedBlobs: [])
        }
        var result = deletion
        result.removedBlobs = removed
        return result
    }

    /// Points `name` at the base `target` refers to (created or moved); returns the digest it
    /// pointed at before, or nil for a new name.
    @discardableResult
    public func setBaseName(_ name: AdapterName, to target: AdapterReference) throws -> SHA256Digest? {
        try write { connection, _ in
            guard let digest = try resolveBaseDigest(target, connection), try fetchBase(digest, connection) != nil else {
                throw CatalogError.unknownBase(target.description)
            }
            let previous = try resolveBaseDigest(.name(name), connection)
            try upsertBaseName(name, digest, connection)
            return previous
        }.0
    }

    /// Removes a base's name; returns the digest it pointed at, or nil when there was no such name.
    @discardableResult
    public func removeBaseName(_ name: AdapterName) throws -> SHA256Digest? {
        try write { connection, _ in
            let previous = try resolveBaseDigest(.name(name), connection)
            try connection.run("DELETE FROM base_names WHERE name = ?", [name.rawValue])
            return previous
        }.0
    }

    // MARK: Rows

    func resolveBaseDigest(_ reference: AdapterReference, _ connection: any DatabaseConnection) throws -> SHA256Digest? {
        switch reference {
        case .digest(let digest): return digest
        case .name(let name):
            return try connection.queryFirst("SELECT base_digest FROM base_names WHERE name = ?", [name.rawValue]) {
                try digest($0, 0, table: "base_names", column: "base_digest")
            }
        }
    }

    func fetchBase(_ digest: SHA256Digest, _ connection: any DatabaseConnection) throws -> BaseRecord? {
        guard var record = try connection.queryFirst("""
            SELECT digest, total_bytes, tensor_count, description, created_at FROM bases WHERE digest = ?
            """, [digest.hex], { row in
                BaseRecord(digest: try self.digest(row, 0, table: "bases", column: "digest"), files: [],
                           totalBytes: try row.column(1), tensorCount: try row.column(2), descriptionJSON: try row.column(3),
                           createdAt: Date(timeIntervalSince1970: try row.column(4)), names: [])
            }) else { return nil }
        record.files = try connection.query("""
            SELECT f.path, f.blob_digest, b.size FROM base_files f JOIN blobs b ON b.digest = f.blob_digest
            WHERE f.base_digest = ? ORDER BY f.path
            """, [digest.hex]) { row in
                BaseRecord.File(path: try row.column(0), blob: try self.digest(row, 1, table: "base_files", column: "blob_digest"),
                                size: try row.column(2))
            }
        record.names = try connection.query("SELECT name FROM base_names WHERE base_digest = ? ORDER BY name", [digest.hex]) { row in
            let text = try row.column(0) as String
            guard let name = try? AdapterName(stored: text) else {
                throw CatalogError.corruptRow(table: "base_names", column: "name", value: text)
            }
            return name
        }
        record.damaged = try connection.queryFirst("""
            SELECT EXISTS (SELECT 1 FROM base_files f JOIN damaged_blobs d ON d.digest = f.blob_digest WHERE f.base_digest = ?)
            """, [digest.hex]) { try $0.column(0) as Bool } ?? false
        return record
    }

    private func upsertBaseName(_ name: AdapterName, _ digest: SHA256Digest, _ connection: any DatabaseConnection) throws {
        try connection.run("""
            INSERT INTO base_names (name, base_digest, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET base_digest = excluded.base_digest, updated_at = excluded.updated_at
            """, [name.rawValue, digest.hex, now()])
    }
}
