import Foundation

extension AdapterCatalog {
    /// Records a new token whose secret hashes to `secretHash` (the caller made the secret and shows
    /// it once; the catalog never sees it). `CatalogError.duplicateToken` when that hash is taken.
    public func createToken(secretHash: SHA256Digest, name: String, scope: TokenScope, namespace: String?,
                            expiresAt: Date?) throws -> TokenRecord {
        try TokenRecord.validateName(name)
        if let namespace {
            do { try AdapterName.validateNamespace(namespace) } catch { throw CatalogError.invalidToken("namespace: \(error)") }
        }
        let record = TokenRecord(id: TokenID.random(), name: name, scope: scope, namespace: namespace,
                                 createdAt: Date(timeIntervalSince1970: now()), expiresAt: expiresAt)
        return try database.transaction { connection in
            let taken = try connection.queryFirst("SELECT 1 FROM tokens WHERE secret_hash = ?", [secretHash.hex]) { _ in true } ?? false
            guard !taken else { throw CatalogError.duplicateToken }
            try connection.run("""
                INSERT INTO tokens (id, secret_hash, name, scope, namespace, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [record.id.rawValue, secretHash.hex, name, scope.rawValue, namespace,
                      record.createdAt.timeIntervalSince1970, expiresAt?.timeIntervalSince1970])
            return record
        }
    }

    /// The token whose secret hashes to `secretHash` (an indexed lookup: the secret is never
    /// compared byte by byte), revoked and expired ones included; nil when there is none.
    public func token(secretHash: SHA256Digest) throws -> TokenRecord? {
        try database.read { connection in
            try connection.queryFirst("SELECT \(Self.tokenColumns) FROM tokens WHERE secret_hash = ?", [secretHash.hex]) {
                try tokenRecord($0)
            }
        }
    }

    /// Every token (of `namespace` when given), newest first, revoked ones included.
    public func tokens(namespace: String? = nil) throws -> [TokenRecord] {
        try database.read { connection in
            try connection.query("""
                SELECT \(Self.tokenColumns) FROM tokens WHERE (?1 IS NULL OR namespace = ?1) ORDER BY created_at DESC, id
                """, [namespace]) { try tokenRecord($0) }
        }
    }

    /// Revokes a token (of `namespace` when given: another namespace's token is unknown). Revoking
    /// twice keeps the first time. `CatalogError.unknownToken` when there is none.
    @discardableResult
    public func revokeToken(_ id: TokenID, namespace: String? = nil) throws -> TokenRecord {
        try database.transaction { connection in
            try connection.run("""
                UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND (?3 IS NULL OR namespace = ?3)
                """, [now(), id.rawValue, namespace])
            guard let record = try connection.queryFirst("""
                SELECT \(Self.tokenColumns) FROM tokens WHERE id = ? AND (?2 IS NULL OR namespace = ?2)
                """, [id.rawValue, namespace], { try tokenRecord($0) }) else {
                throw CatalogError.unknownToken(id)
            }
            return record
        }
    }

    /// Whether some admin token without a namespace is neither revoked nor expired at `time`.
    public func hasActiveAdminToken(at time: Date) throws -> Bool {
        try database.read { connection in
            try connection.queryFirst("""
                SELECT 1 FROM tokens WHERE scope = 'admin' AND namespace IS NULL AND revoked_at IS NULL
                  AND (expires_at IS NULL OR expires_at > ?) LIMIT 1
                """, [time.timeIntervalSince1970]) { _ in true } ?? false
        }
    }

    /// Records when tokens were last used (batched by the caller: a request never writes).
    public func recordTokenUses(_ uses: [TokenID: Date]) throws {
        guard !uses.isEmpty else { return }
        try database.transaction { connection in
            for (id, time) in uses {
                try connection.run("UPDATE tokens SET last_used_at = CASE WHEN last_used_at > ?1 THEN last_used_at ELSE ?1 END WHERE id = ?2",
                                   [time.timeIntervalSince1970, id.rawValue])
            }
        }
    }

    // MARK: Rows

    static let tokenColumns = "id, name, scope, namespace, created_at, expires_at, last_used_at, revoked_at"

    func tokenRecord(_ row: any DatabaseRow) throws -> TokenRecord {
        let idText = try row.column(0) as String
        guard let id = try? TokenID(validating: idText) else {
            throw CatalogError.corruptRow(table: "tokens", column: "id", value: idText)
        }
        let scopeText = try row.column(2) as String
        guard let scope = TokenScope(rawValue: scopeText) else {
            throw CatalogError.corruptRow(table: "tokens", column: "scope", value: scopeText)
        }
        func date(_ column: Int) throws -> Date? { (try row.column(column) as Double?).map(Date.init(timeIntervalSince1970:)) }
        return TokenRecord(id: id, name: try row.column(1), scope: scope, namespace: try row.column(3),
                           createdAt: Date(timeIntervalSince1970: try row.column(4)), expiresAt: try date(5),
                           lastUsedAt: try date(6), revokedAt: try date(7))
    }
}
