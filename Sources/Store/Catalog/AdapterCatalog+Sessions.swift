import Foundation

extension AdapterCatalog {
    /// The most sessions one token may hold at once: signing in again past it ends the oldest, so a
    /// token pasted into a script's loop cannot fill the table.
    public static let maxSessionsPerToken = 32

    /// Records a session whose cookie secret hashes to `secretHash`, for `token`, until `expiresAt`.
    /// `CatalogError.unknownToken` when the token is gone; `CatalogError.duplicateToken` when the
    /// hash is taken (two random 256-bit secrets never collide; a caller reusing one is a bug).
    public func createSession(secretHash: SHA256Digest, token: TokenID, expiresAt: Date) throws {
        try database.transaction { connection in
            guard try connection.queryFirst("SELECT 1 FROM tokens WHERE id = ?", [token.rawValue], { _ in true }) ?? false else {
                throw CatalogError.unknownToken(token)
            }
            let taken = try connection.queryFirst("SELECT 1 FROM ui_sessions WHERE id_hash = ?", [secretHash.hex]) { _ in true } ?? false
            guard !taken else { throw CatalogError.duplicateToken }
            // Keep the newest `maxSessionsPerToken - 1`, leaving room for this one (LIMIT in a subquery:
            // the one spelling SQLite and PostgreSQL share).
            try connection.run("""
                DELETE FROM ui_sessions WHERE token_id = ?1 AND id_hash NOT IN (
                    SELECT id_hash FROM ui_sessions WHERE token_id = ?1 ORDER BY created_at DESC, id_hash LIMIT ?2)
                """, [token.rawValue, Self.maxSessionsPerToken - 1])
            try connection.run("INSERT INTO ui_sessions (id_hash, token_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                               [secretHash.hex, token.rawValue, now(), expiresAt.timeIntervalSince1970])
        }
    }

    /// The session whose cookie secret hashes to `secretHash`, with its token (expired ones
    /// included: the caller checks `isValid(at:)`); nil when there is none.
    public func session(secretHash: SHA256Digest) throws -> SessionRecord? {
        let columns = Self.tokenColumns.split(separator: ",").map { "t." + $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: ", ")
        return try database.read { connection in
            try connection.queryFirst("""
                SELECT \(columns), s.created_at, s.expires_at FROM ui_sessions s JOIN tokens t ON t.id = s.token_id
                WHERE s.id_hash = ?
                """, [secretHash.hex]) { row in
                SessionRecord(token: try tokenRecord(row),
                              createdAt: Date(timeIntervalSince1970: try row.column(8)),
                              expiresAt: Date(timeIntervalSince1970: try row.column(9)))
            }
        }
    }

    /// Ends a session (sign-out); false when there was none.
    @discardableResult
    public func deleteSession(secretHash: SHA256Digest) throws -> Bool {
        try database.transaction { connection in
            try connection.run("DELETE FROM ui_sessions WHERE id_hash = ?", [secretHash.hex]) > 0
        }
    }

    /// Removes sessions that expired before `time`, or whose token was revoked or expired by then;
    /// returns how many.
    @discardableResult
    public func deleteExpiredSessions(at time: Date) throws -> Int {
        try database.transaction { connection in
            try connection.run("""
                DELETE FROM ui_sessions WHERE expires_at <= ?1 OR token_id IN (
                    SELECT id FROM tokens WHERE revoked_at IS NOT NULL OR (expires_at IS NOT NULL AND expires_at <= ?1))
                """, [time.timeIntervalSince1970])
        }
    }
}
