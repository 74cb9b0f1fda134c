import CSQLite3
import Locking
import Logging

/// A SQLite database file, safe to use from many concurrent Swift tasks.
///
/// **Concurrency: one writer and one reader, each a connection behind its own lock.** Every call
/// takes its connection's lock for the duration of its closure, so writes from concurrent tasks run
/// one after another, and so do reads. The closures are synchronous, so no task can suspend while
/// holding a lock, and a lock is never held across an `await`. Reads (`read`) run on the second
/// connection inside a read transaction: WAL gives them a consistent snapshot of the last commit
/// and they never wait for a writer's fsync (a `synchronous=FULL` commit takes milliseconds), so a
/// cache hit or a listing is not queued behind an upload's commit. A read started after a write
/// returned sees that write. Other processes (the `sqlite3` shell, a backup) can read the file too.
///
/// Do not call the database from inside its own closures (the locks are not re-entrant): use the
/// `SQLiteConnection` the closure receives.
///
/// Opening applies `journal_mode=WAL`, `synchronous=FULL`, `foreign_keys=ON` and the configured
/// busy timeout, and enables extended result codes.
public final class SQLiteDatabase: CatalogDatabase, @unchecked Sendable {
    /// The database file.
    public let path: String
    public let configuration: Configuration
    // nil once closed. `@unchecked Sendable` above is sound because the connection (not Sendable)
    // is only ever touched inside this lock.
    private let connection: Locked<SQLiteConnection?>
    /// The read connection (`PRAGMA query_only`), opened on first use so that it sees the schema the
    /// migrations left; nil until then and once closed.
    private let reader = Locked<ReaderState>(.unopened)
    let logger: Logger

    private enum ReaderState {
        case unopened
        case open(SQLiteConnection)
        case closed
    }

    /// Opens (creating if needed) the database at `path` and applies the pragmas.
    public init(path: String, configuration: Configuration = .init(), logger: Logger) throws(SQLiteError) {
        let connection = try Self.open(path, configuration: configuration, create: true)
        do {
            try Self.applyPragmas(connection)
        } catch {
            connection.close()
            throw error
        }
        self.path = path
        self.configuration = configuration
        self.connection = Locked(connection)
        self.logger = logger
        logger.debug("opened SQLite database", metadata: ["path": "\(path)"])
    }

    /// Opens a connection with extended result codes and the configured busy timeout.
    private static func open(_ path: String, configuration: Configuration, create: Bool) throws(SQLiteError) -> SQLiteConnection {
        let timeout = try configuration.busyTimeoutMilliseconds()
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = sqliteMessage(handle)
            sqlite3_close_v2(handle)
            throw .open(path: path, code: code, message: message)
        }
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, timeout)
        return SQLiteConnection(handle: handle, path: path)
    }

    deinit { close() }

    /// Closes both connections. Later calls throw `SQLiteError.closed`. Idempotent.
    public func close() {
        reader.withLock { state in
            if case let .open(connection) = state { connection.close() }
            state = .closed
        }
        connection.withLock { connection in
            connection?.close()
            connection = nil
        }
    }

    /// Runs `body` on the read connection inside a read transaction (`BEGIN` … `COMMIT`): every
    /// statement in it sees the same snapshot, the last commit before it started. Writes through it
    /// fail (`query_only`). Never waits for the writer's lock or its fsync.
    @discardableResult
    public func read<T>(_ body: (any DatabaseConnection) throws -> T) throws -> T {
        try reader.withLock { state in
            let connection: SQLiteConnection
            switch state {
            case .closed: throw SQLiteError.closed(path: path)
            case let .open(open): connection = open
            case .unopened:
                connection = try Self.open(path, configuration: configuration, create: false)
                do { try connection.execute("PRAGMA query_only=1") } catch {
                    connection.close()
                    throw error
                }
                state = .open(connection)
            }
            try connection.execute("BEGIN")
            do {
                let result = try body(connection)
                try connection.execute("COMMIT")
                return result
            } catch {
                if !connection.isAutocommit { try? connection.execute("ROLLBACK") }
                throw error
            }
        }
    }

    /// Runs `body` with the connection, holding the lock; no transaction is opened.
    @discardableResult
    public func withConnection<T>(_ body: (any DatabaseConnection) throws -> T) throws -> T {
        try withSQLiteConnection(body)
    }

    /// `withConnection` with the concrete connection, for what only SQLite has (`user_version`).
    func withSQLiteConnection<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
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
    public func transaction<T>(_ body: (any DatabaseConnection) throws -> T) throws -> T {
        try withConnection { connection in try connection.transaction { try body(connection) } }
    }

    /// Runs one or more statements without parameters.
    public func execute(_ sql: String) throws {
        try withConnection { try $0.execute(sql) }
    }

    /// Runs one statement with `bindings`; returns the number of rows it changed.
    @discardableResult
    public func run(_ sql: String, _ bindings: [any DatabaseBindable] = []) throws -> Int {
        try withConnection { try $0.run(sql, bindings) }
    }

    /// Runs a query with `bindings` and maps every row with `transform`.
    public func query<T>(_ sql: String, _ bindings: [any DatabaseBindable] = [],
                         _ transform: (any DatabaseRow) throws -> T) throws -> [T] {
        try withConnection { try $0.query(sql, bindings, transform) }
    }

    /// The schema version (`PRAGMA user_version`).
    public func userVersion() throws -> Int {
        try withSQLiteConnection { try $0.userVersion() }
    }

    // MARK: CatalogDatabase

    public var location: String { path }

    public func schemaVersion() throws -> Int { try userVersion() }

    public func isClosedError(_ error: any Error) -> Bool {
        if case SQLiteError.closed = error { return true }
        return false
    }

    /// Always the lock: one process owns a SQLite catalog, and its own single flight already runs
    /// each computation once.
    public func tryComputeLock(_ name: String) throws -> ComputeLock? { ComputeLock(release: {}) }

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
