import CSQLite3
import Logging

/// A SQLite database file, safe to use from many concurrent Swift tasks.
///
/// **Concurrency: one connection behind one lock.** Every call takes the lock for the duration of
/// its closure, so statements and transactions from concurrent tasks run one after another. The
/// closures are synchronous, so no task can suspend while holding the lock, and the lock is never
/// held across an `await`. A pool would let reads run beside a write, but the store's statements
/// take microseconds to a few milliseconds (the `synchronous=FULL` commit's fsync), far below the
/// cost of the work the service does around them; one connection also keeps every read consistent
/// with the last write of this process without thinking about it. Other processes (the `sqlite3`
/// shell, a backup) can still read the file while it is in use thanks to WAL mode.
///
/// Do not call the database from inside its own closures (the lock is not re-entrant): use the
/// `SQLiteConnection` the closure receives.
///
/// Opening applies `journal_mode=WAL`, `synchronous=FULL`, `foreign_keys=ON` and the configured
/// busy timeout, and enables extended result codes.
public final class SQLiteDatabase: @unchecked Sendable {
    /// The database file.
    public let path: String
    public let configuration: Configuration
    // nil once closed. `@unchecked Sendable` above is sound because the connection (not Sendable)
    // is only ever touched inside this lock.
    private let connection: Locked<SQLiteConnection?>
    let logger: Logger

    /// Opens (creating if needed) the database at `path` and applies the pragmas.
    public init(path: String, configuration: Configuration = .init(), logger: Logger) throws(SQLiteError) {
        let timeout = try configuration.busyTimeoutMilliseconds()
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = sqliteMessage(handle)
            sqlite3_close_v2(handle)
            throw .open(path: path, code: code, message: message)
        }
        let connection = SQLiteConnection(handle: handle, path: path)
        do {
            sqlite3_extended_result_codes(handle, 1)
            sqlite3_busy_timeout(handle, timeout)
            try Self.applyPragmas(connection)
        } catch {
            connection.close()
            throw error
        }
        self.path = path
        self.configuration = configuration
        self.connection = Locked(connection)
        self.logger = logger
        logger.debug("opened SQLite database", metadata: ["path": "\(path)", "busy_timeout_ms": "\(timeout)"])
    }

    deinit { close() }

    /// Closes the connection. Later calls throw `SQLiteError.closed`. Idempotent.
    public func close() {
        connection.withLock { connection in
            connection?.close()
            connection = nil
        }
    }

    /// Runs `body` with the connection, holding the lock; no transaction is opened.
    @discardableResult
    public func withConnection<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try connection.withLock { connection in
            guard let connection else { throw SQLiteError.closed(path: path) }
            return try body(connection)
        }
    }

    /// Runs `body` inside `BEGIN IMMEDIATE` … `COMMIT`, holding the lock.
    ///
    /// `IMMEDIATE` takes the write lock at the start, so a transaction that reads and then writes
    /// cannot fail halfway with `SQLITE_BUSY` on lock upgrade. When `body` throws, or `COMMIT`
    /// fails, the transaction is rolled back and the error rethrown.
    @discardableResult
    public func transaction<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try withConnection { connection in try connection.transaction { try body(connection) } }
    }

    /// Runs one or more statements without parameters.
    public func execute(_ sql: String) throws {
        try withConnection { try $0.execute(sql) }
    }

    /// Runs one statement with `bindings`; returns the number of rows it changed.
    @discardableResult
    public func run(_ sql: String, _ bindings: [any SQLiteBindable] = []) throws -> Int {
        try withConnection { try $0.run(sql, bindings) }
    }

    /// Runs a query with `bindings` and maps every row with `transform`.
    public func query<T>(_ sql: String, _ bindings: [any SQLiteBindable] = [],
                         _ transform: (SQLiteRow) throws -> T) throws -> [T] {
        try withConnection { try $0.query(sql, bindings, transform) }
    }

    /// The schema version (`PRAGMA user_version`).
    public func userVersion() throws -> Int {
        try withConnection { try $0.userVersion() }
    }

    private static func applyPragmas(_ connection: SQLiteConnection) throws(SQLiteError) {
        let mode: String?
        do { mode = try connection.queryFirst("PRAGMA journal_mode=WAL") { try $0.column(0) as String } } catch {
            throw error as? SQLiteError ?? .open(path: connection.path, code: SQLITE_ERROR, message: "\(error)")
        }
        guard mode?.lowercased() == "wal" else {
            throw .open(path: connection.path, code: SQLITE_ERROR,
                        message: "journal_mode is \(mode ?? "unknown"), not wal (is the file on a filesystem without shared memory?)")
        }
        try connection.execute("PRAGMA synchronous=FULL")
        try connection.execute("PRAGMA foreign_keys=ON")
    }
}
