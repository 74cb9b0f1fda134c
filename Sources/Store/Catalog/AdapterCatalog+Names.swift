extension AdapterCatalog {
    /// Points `name` at the adapter `target` refers to, creating the name or moving it (like
    /// retagging an image). Returns the digest it pointed at before, or nil for a new name.
    @discardableResult
    public func setName(_ name: AdapterName, to target: AdapterReference) throws -> SHA256Digest? {
        try write { connection, _ in
            guard let digest = try resolveDigest(target, connection), try fetchAdapter(digest, connection) != nil else {
                throw CatalogError.unknownReference(target.description)
            }
            let previous = try lookUpName(name, connection)
            try upsertName(name, digest, connection)
            return previous
        }.0
    }

    /// Removes a name; returns the digest it pointed at, or nil when there was no such name.
    /// The adapter itself stays.
    @discardableResult
    public func removeName(_ name: AdapterName) throws -> SHA256Digest? {
        try write { connection, _ in
            let previous = try lookUpName(name, connection)
            try connection.run("DELETE FROM names WHERE name = ?", [name.rawValue])
            return previous
        }.0
    }

    /// The names pointing at an adapter, sorted.
    public func names(of digest: SHA256Digest) throws -> [AdapterName] {
        try database.read { try fetchNames(digest, $0) }
    }

    // MARK: Rows

    func upsertName(_ name: AdapterName, _ digest: SHA256Digest, _ connection: any DatabaseConnection) throws {
        try connection.run("""
            INSERT INTO names (name, adapter_digest, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET adapter_digest = excluded.adapter_digest, updated_at = excluded.updated_at
            """, [name.rawValue, digest.hex, now()])
    }

    func fetchNames(_ digest: SHA256Digest, _ connection: any DatabaseConnection) throws -> [AdapterName] {
        try connection.query("SELECT name FROM names WHERE adapter_digest = ? ORDER BY name", [digest.hex]) { row in
            let text = try row.column(0) as String
            guard let name = try? AdapterName(stored: text) else {
                throw CatalogError.corruptRow(table: "names", column: "name", value: text)
            }
            return name
        }
    }

    private func lookUpName(_ name: AdapterName, _ connection: any DatabaseConnection) throws -> SHA256Digest? {
        try connection.queryFirst("SELECT adapter_digest FROM names WHERE name = ?", [name.rawValue]) {
            try digest($0, 0, table: "names", column: "adapter_digest")
        }
    }
}
