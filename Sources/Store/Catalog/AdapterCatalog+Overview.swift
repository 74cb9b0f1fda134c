import Foundation

/// A page of a listing other than adapters' (jobs, cache entries), with the total matching.
public struct CatalogPage<Item: Sendable>: Sendable {
    public var items: [Item]
    public var total: Int
    /// The offset of the next page, or nil on the last.
    public var nextOffset: Int?

    init(items: [Item], total: Int, offset: Int) {
        self.items = items
        self.total = total
        let next = offset + items.count
        nextOffset = next < total && !items.isEmpty ? next : nil
    }
}

/// The listings an overview of the catalog needs (the dashboard): jobs and cache entries by page,
/// base models with their adapter counts, and the names of many adapters at once.
extension AdapterCatalog {
    /// Jobs newest first: every job, or only those created by a token of `namespace`.
    public func jobs(namespace: String?, limit: Int, offset: Int) throws -> CatalogPage<JobRecord> {
        try Self.validatePage(limit: limit, offset: offset)
        return try database.read { connection in
            let total = try connection.queryFirst("SELECT count(*) FROM jobs WHERE (?1 IS NULL OR namespace = ?1)", [namespace]) {
                try $0.column(0) as Int
            } ?? 0
            let items = try connection.query("""
                SELECT \(Self.jobColumns) FROM jobs WHERE (?1 IS NULL OR namespace = ?1)
                ORDER BY created_at DESC, id LIMIT ?2 OFFSET ?3
                """, [namespace, limit, offset]) { try jobRecord($0) }
            return CatalogPage(items: items, total: total, offset: offset)
        }
    }

    /// Cache entries, most recently used first: all, or those of adapters with a name in `namespace`.
    public func cacheEntries(namespace: String?, limit: Int, offset: Int) throws -> CatalogPage<CacheEntry> {
        try Self.validatePage(limit: limit, offset: offset)
        let scope = namespace.map { $0 + "/" }
        let filter = """
            WHERE ?1 IS NULL OR EXISTS (SELECT 1 FROM names n WHERE n.adapter_digest = squeeze_cache.adapter_digest
                                         AND n.name >= ?1 AND n.name < ?2)
            """
        let bindings: [any DatabaseBindable] = [scope, scope.map { $0 + "~" }]
        return try database.read { connection in
            let total = try connection.queryFirst("SELECT count(*) FROM squeeze_cache \(filter)", bindings) {
                try $0.column(0) as Int
            } ?? 0
            let items = try connection.query("""
                SELECT \(Self.cacheColumns) FROM squeeze_cache \(filter)
                ORDER BY last_used_at DESC, rowid DESC LIMIT ?3 OFFSET ?4
                """, bindings + [limit, offset]) { try cacheEntryRow($0) }
            return CatalogPage(items: items, total: total, offset: offset)
        }
    }

    /// Every adapter's `base_model` with how many adapters name it, most used first (adapters with
    /// a name in `namespace` only, when given); adapters without one are left out.
    public func baseModels(namespace: String?) throws -> [(baseModel: String, adapters: Int)] {
        let scope = namespace.map { $0 + "/" }
        return try database.read { connection in
            try connection.query("""
                SELECT base_model, count(*) FROM adapters a WHERE base_model IS NOT NULL
                  AND (?1 IS NULL OR EXISTS (SELECT 1 FROM names n WHERE n.adapter_digest = a.digest
                                               AND n.name >= ?1 AND n.name < ?2))
                GROUP BY base_model ORDER BY count(*) DESC, base_model
                """, [scope, scope.map { $0 + "~" }]) { (try $0.column(0) as String, try $0.column(1) as Int) }
        }
    }

    /// The names of each of `digests` (an adapter without names maps to an empty list; an unknown
    /// digest is absent), in one query.
    public func names(of digests: [SHA256Digest]) throws -> [SHA256Digest: [AdapterName]] {
        try database.read { try fetchNames(of: digests, $0) }
    }

    /// `names(of:)` inside a read or transaction: one statement per 500 digests, names in byte order.
    func fetchNames(of digests: [SHA256Digest], _ connection: any DatabaseConnection) throws -> [SHA256Digest: [AdapterName]] {
        let unique = Array(Set(digests))
        guard !unique.isEmpty else { return [:] }
        var result: [SHA256Digest: [AdapterName]] = [:]
        for chunk in stride(from: 0, to: unique.count, by: 500).map({ unique[$0..<min($0 + 500, unique.count)] }) {
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let rows = try connection.query("""
                SELECT digest, NULL FROM adapters WHERE digest IN (\(marks))
                UNION ALL SELECT adapter_digest, name FROM names WHERE adapter_digest IN (\(marks))
                """, chunk.map(\.hex) + chunk.map(\.hex)) { row -> (SHA256Digest, AdapterName?) in
                let digest = try digest(row, 0, table: "names", column: "adapter_digest")
                let text = try row.column(1) as String?
                return (digest, try text.map { text in
                    guard let name = try? AdapterName(stored: text) else {
                        throw CatalogError.corruptRow(table: "names", column: "name", value: text)
                    }
                    return name
                })
            }
            for (digest, name) in rows {
                result[digest, default: []] += name.map { [$0] } ?? []
            }
        }
        // Byte order, as `ORDER BY name` gives it (names are ASCII).
        return result.mapValues { $0.sorted { Array($0.description.utf8).lexicographicallyPrecedes(Array($1.description.utf8)) } }
    }

    static func validatePage(limit: Int, offset: Int) throws(CatalogError) {
        guard (1...AdapterQuery.maxLimit).contains(limit) else {
            throw .invalidQuery("limit \(limit) is outside 1...\(AdapterQuery.maxLimit)")
        }
        guard offset >= 0 else { throw .invalidQuery("offset \(offset) is negative") }
    }
}
