import Foundation

extension AdapterCatalog {
    /// The outcome of `put`.
    public struct PutResult: Hashable, Sendable {
        public var adapter: AdapterRecord
        /// False when an adapter with this digest already existed (it is returned unchanged).
        public var created: Bool
    }

    /// Stores an adapter whose blobs are already committed, and points `name` at it if given —
    /// both in one transaction.
    ///
    /// Idempotent: when the digest exists, the stored record is returned with `created: false`
    /// (and `name`, if given, is moved to it); blobs passed in that the existing record does not use
    /// are removed. Throws `CatalogError.missingBlob` when a blob file is absent, and
    /// `CatalogError.invalidAdapter` when a PEFT adapter has no config or the module count is negative.
    @discardableResult
    public func put(_ adapter: NewAdapter, name: AdapterName? = nil) throws -> PutResult {
        guard adapter.format == .kohya || adapter.configBlob != nil else {
            throw CatalogError.invalidAdapter(adapter.digest, "a PEFT adapter needs its adapter_config.json blob")
        }
        guard adapter.moduleCount >= 0 else {
            throw CatalogError.invalidAdapter(adapter.digest, "module count \(adapter.moduleCount) is negative")
        }
        let blobDigests = [adapter.configBlob, adapter.weightsBlob].compactMap { $0 }
        return try write { connection, effects in
            effects.claimed = blobDigests
            if var existing = try fetchAdapter(adapter.digest, connection) {
                effects.released = blobDigests
                if existing.damaged {
                    // The same content again, freshly committed and hashed on the way: the repair.
                    for digest in blobDigests where try blobs.contains(digest) {
                        try connection.run("DELETE FROM damaged_blobs WHERE digest = ?", [digest.hex])
                    }
                    existing.damaged = try connection.queryFirst("""
                        SELECT EXISTS (SELECT 1 FROM damaged_blobs WHERE digest = ? OR digest = ?)
                        """, [existing.weightsBlob.hex, existing.configBlob?.hex]) { try $0.column(0) as Bool } ?? false
                }
                if let name {
                    try upsertName(name, adapter.digest, connection)
                    existing.names = try fetchNames(adapter.digest, connection)
                }
                return PutResult(adapter: existing, created: false)
            }
            let configBytes = try adapter.configBlob.map { try registerBlob($0, connection) } ?? 0
            let weightsBytes = try registerBlob(adapter.weightsBlob, connection)
            let createdAt = now()
            try connection.run("""
                INSERT INTO adapters (digest, format, config_digest, weights_digest, base_model, module_count,
                                      total_bytes, description, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [adapter.digest.hex, adapter.format.rawValue, adapter.configBlob?.hex, adapter.weightsBlob.hex,
                      adapter.baseModel, adapter.moduleCount, configBytes + weightsBytes, adapter.descriptionJSON, createdAt])
            if let name { try upsertName(name, adapter.digest, connection) }
            guard let stored = try fetchAdapter(adapter.digest, connection) else {
                throw CatalogError.unknownAdapter(adapter.digest)
            }
            return PutResult(adapter: stored, created: true)
        }.0
    }

    /// The adapter with this digest, or nil.
    public func adapter(_ digest: SHA256Digest) throws -> AdapterRecord? {
        try database.read { try fetchAdapter(digest, $0) }
    }

    /// The adapter a digest or name refers to; `CatalogError.unknownReference` when there is none.
    public func resolve(_ reference: AdapterReference) throws -> AdapterRecord {
        try database.read { connection in
            guard let digest = try resolveDigest(reference, connection), let record = try fetchAdapter(digest, connection) else {
                throw CatalogError.unknownReference(reference.description)
            }
            return record
        }
    }

    /// The adapter `text` refers to: a digest (64 lowercase hex) or a name. Throws
    /// `CatalogError.invalidReference` for text that is neither, `unknownReference` when unknown.
    public func resolve(_ text: String) throws -> AdapterRecord {
        try resolve(try AdapterReference(parsing: text))
    }

    /// A page of adapters, newest first (ties by digest), with the total matching the filters.
    public func list(_ query: AdapterQuery = AdapterQuery()) throws -> AdapterPage {
        try query.validate()
        // Names are ASCII from [A-Za-z0-9._/-], all below '~', so [prefix, prefix + "~") holds exactly
        // the names that start with prefix, and the primary key index answers it. A namespace is the
        // prefix "namespace/"; with a name prefix too, one name must have both.
        let scope = query.namespace.map { $0 + "/" }
        // Only the filters given go into the statement: a `?1 IS NULL OR …` form keeps the planner
        // from using an index, and every listing then read every adapter row (11–16 ms at 10,000
        // adapters, against 0.2–3 ms this way; Benchmarks/README.md, "Dashboard pages").
        var conditions: [String] = []
        var filters: [any DatabaseBindable] = []
        if let baseModel = query.baseModel {
            conditions.append("a.base_model = ?")
            filters.append(baseModel)
        }
        var nameConditions: [String] = []
        for range in [query.namePrefix, scope].compactMap({ $0 }) {
            nameConditions.append("n.name >= ? AND n.name < ?")
            filters += [range, range + "~"]
        }
        if !nameConditions.isEmpty {
            // From the names' side: the primary key finds the names in range, rather than a probe of
            // `names` for every adapter in creation order.
            conditions.append("a.digest IN (SELECT n.adapter_digest FROM names n WHERE \(nameConditions.joined(separator: " AND ")))")
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // One lock hold: no write of this process can land between the count and the page.
        return try database.read { connection in
            let total = try connection.queryFirst("SELECT count(*) FROM adapters a \(filter)", filters) {
                try $0.column(0) as Int
            } ?? 0
            var items = try connection.query("""
                SELECT \(Self.adapterColumns) FROM adapters a \(filter)
                ORDER BY a.created_at DESC, a.digest LIMIT ? OFFSET ?
                """, filters + [query.limit, query.offset]) { try adapterRecord($0) }
            let names = try fetchNames(of: items.map(\.digest), connection)   // one statement, not one a row
            for index in items.indices { items[index].names = names[items[index].digest] ?? [] }
            let next = query.offset + items.count
            return AdapterPage(items: items, total: total, nextOffset: next < total && !items.isEmpty ? next : nil)
        }
    }

    /// Deletes an adapter, with its names and cache entries; then removes the blob files nothing
    /// else uses. `CatalogError.unknownReference` when there is no such adapter.
    /// - Parameter namespace: when given, the adapter is deleted only if every one of its names lies
    ///   in it (`CatalogError.namesOutsideNamespace` otherwise), checked in the deleting transaction.
    @discardableResult
    public func delete(_ reference: AdapterReference, onlyIfAllNamesIn namespace: String? = nil) throws -> AdapterDeletion {
        let (deletion, removed) = try write { connection, effects in
            guard let digest = try resolveDigest(reference, connection), let record = try fetchAdapter(digest, connection) else {
                throw CatalogError.unknownReference(reference.description)
            }
            if let namespace, !record.names.allSatisfy({ $0.isIn(namespace: namespace) }) {
                throw CatalogError.namesOutsideNamespace(digest, namespace: namespace)
            }
            let entries = try fetchCacheEntries(adapter: digest, connection)
            try connection.run("DELETE FROM adapters WHERE digest = ?", [digest.hex])
            effects.released = [record.configBlob, record.weightsBlob].compactMap { $0 }
                + entries.flatMap { [$0.configBlob, $0.weightsBlob].compactMap { $0 } }
            return AdapterDeletion(adapter: record, removedCacheEntries: entries, removedBlobs: [])
        }
        var result = deletion
        result.removedBlobs = removed
        return result
    }

    // MARK: Rows

    static let adapterColumns = """
        a.digest, a.format, a.config_digest, a.weights_digest, a.base_model, a.module_count, a.total_bytes,
        a.description, a.created_at,
        EXISTS (SELECT 1 FROM damaged_blobs d WHERE d.digest = a.weights_digest OR d.digest = a.config_digest)
        """

    func fetchAdapter(_ digest: SHA256Digest, _ connection: any DatabaseConnection) throws -> AdapterRecord? {
        guard var record = try connection.queryFirst("SELECT \(Self.adapterColumns) FROM adapters a WHERE a.digest = ?",
                                                     [digest.hex], { try adapterRecord($0) }) else { return nil }
        record.names = try fetchNames(digest, connection)
        return record
    }

    func resolveDigest(_ reference: AdapterReference, _ connection: any DatabaseConnection) throws -> SHA256Digest? {
        switch reference {
        case .digest(let digest):
            return digest
        case .name(let name):
            return try connection.queryFirst("SELECT adapter_digest FROM names WHERE name = ?", [name.rawValue]) {
                try digest($0, 0, table: "names", column: "adapter_digest")
            }
        }
    }

    /// Decodes `adapterColumns`; names are filled in by the caller.
    private func adapterRecord(_ row: any DatabaseRow) throws -> AdapterRecord {
        let format = try row.column(1) as String
        guard let adapterFormat = AdapterFormat(rawValue: format) else {
            throw CatalogError.corruptRow(table: "adapters", column: "format", value: format)
        }
        return AdapterRecord(
            digest: try digest(row, 0, table: "adapters", column: "digest"),
            format: adapterFormat,
            configBlob: try optionalDigest(row, 2, table: "adapters", column: "config_digest"),
            weightsBlob: try digest(row, 3, table: "adapters", column: "weights_digest"),
            baseModel: try row.column(4),
            moduleCount: try row.column(5),
            totalBytes: try row.column(6),
            descriptionJSON: try row.column(7),
            createdAt: Date(timeIntervalSince1970: try row.column(8)),
            names: [],
            damaged: try row.column(9))
    }
}
