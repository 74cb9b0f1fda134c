import CSQLite3

/// An open SQLite connection, handed to the closures of `SQLiteDatabase.withConnection` and
/// `SQLiteDatabase.transaction` while the database's lock is held.
///
/// Not `Sendable` and not to be kept beyond the closure: everything done through it is serialized
/// by that lock. Statements run through `run`/`query`/`queryFirst` are prepared once and cached.
public final class SQLiteConnection: DatabaseConnection {
    let handle: OpaquePointer
    /// The database file's path, for error messages.
    public let path: String
    private var statements: [String: SQLiteStatement] = [:]

    init(handle: OpaquePointer, path: String) {
        self.handle = handle
        self.path = path
    }

    /// Finalizes cached statements and closes the handle (`sqlite3_close_v2`, so a statement a
    /// caller still holds is finalized later rather than keeping the file open by error).
    func close() {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more `;`-separated statements without parameters (schema scripts, pragmas).
    public func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        guard code == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? sqliteMessage(handle)
            sqlite3_free(message)
            throw .step(sql: sql, code: sqlite3_extended_errcode(handle), message: text)
        }
    }

    /// A fresh statement for `sql`, owned by the caller (not cached).
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        try SQLiteStatement(database: handle, sql: sql)
    }

    /// Runs a statement with `bindings`; returns the number of rows it changed.
    @discardableResult
    public func run(_ sql: String, _ bindings: [any DatabaseBindable] = []) throws(SQLiteError) -> Int {
        try cached(sql).run(bindings)
    }

    /// Runs a query with `bindings` and maps every row with `transform`.
    public func query<T>(_ sql: String, _ bindings: [any DatabaseBindable] = [],
                         _ transform: (any DatabaseRow) throws -> T) throws -> [T] {
        try cached(sql).query(bindings, transform)
    }

    /// The first row of a query mapped with `transform`, or nil when it returns no row.
    public func queryFirst<T>(_ sql: String, _ bindings: [any DatabaseBindable] = [],
                              _ transform: (any DatabaseRow) throws -> T) throws -> T? {
        let statement = try cached(sql)
        statement.inUse = true
        defer { statement.reset(); statement.inUse = false }
        try statement.bind(bindings)
        return try statement.step() ? transform(statement.row) : nil
    }

    /// Runs `body` inside `BEGIN IMMEDIATE` … `COMMIT`; see `SQLiteDatabase.transaction`. For a
    /// caller that must do more under the lock once the transaction has committed.
    @discardableResult
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if !isAutocommit {
                // Only fails when there is no transaction left to roll back; the original error matters.
                try? execute("ROLLBACK")
            }
            throw error
        }
    }

    /// The rowid of the last successful INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// True outside an explicit transaction.
    public var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    /// `PRAGMA user_version`: the schema version `SQLiteDatabase.migrate` maintains.
    public func userVersion() throws(SQLiteError) -> Int {
        let version: Int?
        do { version = try queryFirst("PRAGMA user_version") { try $0.column(0) as Int } } catch let error as SQLiteError {
            throw error
        } catch {
            throw .step(sql: "PRAGMA user_version", code: SQLITE_ERROR, message: "\(error)")
        }
        return version ?? 0
    }

    /// Sets `PRAGMA user_version` (transactional: it is rolled back with the transaction around it).
    public func setUserVersion(_ version: Int) throws(SQLiteError) {
        guard let exact = Int32(exactly: version), exact >= 0 else {
            throw .invalidConfiguration("user_version \(version) is outside 0...\(Int32.max)")
        }
        try execute("PRAGMA user_version = \(exact)")
    }

    /// A cached statement for `sql`, or a fresh one when the cached one is busy in an outer query.
    private func cached(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let statement = statements[sql] {
            return statement.inUse ? try prepare(sql) : statement
        }
        let statement = try prepare(sql)
        statements[sql] = statement
        return statement
    }
}
