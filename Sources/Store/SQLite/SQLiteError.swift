import CSQLite3

/// A failure reported by SQLite, or a misuse of the wrapper, naming the SQL at fault.
///
/// `code` is SQLite's extended result code (`SQLITE_CONSTRAINT_PRIMARYKEY` = 1555, …);
/// `primaryCode` is its low byte (`SQLITE_CONSTRAINT` = 19), for matching families of errors.
public enum SQLiteError: Error, Equatable, CustomStringConvertible {
    /// The database file could not be opened or configured.
    case open(path: String, code: Int32, message: String)
    /// The SQL did not compile.
    case prepare(sql: String, code: Int32, message: String)
    /// A value could not be bound to parameter `index` (1-based).
    case bind(sql: String, index: Int, code: Int32, message: String)
    /// The statement has `expected` parameters but `given` values were passed.
    case bindingCount(sql: String, expected: Int, given: Int)
    /// Running the statement failed (constraint violation, busy, disk full, …).
    case step(sql: String, code: Int32, message: String)
    /// Column `column` holds `found` where the caller asked for `expected`.
    case columnType(sql: String, column: Int, name: String, expected: String, found: String)
    /// The database's `user_version` is newer than every migration this program knows.
    case schemaTooNew(path: String, found: Int, known: Int)
    /// A configuration value out of its allowed range.
    case invalidConfiguration(String)
    /// The database was closed.
    case closed(path: String)

    /// SQLite's extended result code, when SQLite reported one.
    public var code: Int32? {
        switch self {
        case .open(_, let code, _), .prepare(_, let code, _), .bind(_, _, let code, _), .step(_, let code, _): code
        default: nil
        }
    }

    /// SQLite's primary result code (the low byte of `code`).
    public var primaryCode: Int32? { code.map { $0 & 0xff } }

    /// True for a violated constraint (UNIQUE, NOT NULL, CHECK, FOREIGN KEY, PRIMARY KEY).
    public var isConstraintViolation: Bool { primaryCode == SQLITE_CONSTRAINT }

    /// True when another connection held a lock for longer than the busy timeout.
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }

    public var description: String {
        switch self {
        case .open(let path, let code, let message):
            "SQLite: cannot open \(path): \(message) (code \(code))"
        case .prepare(let sql, let code, let message):
            "SQLite: cannot prepare \(quoted(sql, limit: 200)): \(message) (code \(code))"
        case .bind(let sql, let index, let code, let message):
            "SQLite: cannot bind parameter \(index) of \(quoted(sql, limit: 200)): \(message) (code \(code))"
        case .bindingCount(let sql, let expected, let given):
            "SQLite: \(quoted(sql, limit: 200)) takes \(expected) parameters, \(given) were given"
        case .step(let sql, let code, let message):
            "SQLite: \(quoted(sql, limit: 200)) failed: \(message) (code \(code))"
        case .columnType(let sql, let column, let name, let expected, let found):
            "SQLite: column \(column) (\(name)) of \(quoted(sql, limit: 200)) holds \(found), expected \(expected)"
        case .schemaTooNew(let path, let found, let known):
            "SQLite: \(path) has schema version \(found), newer than the \(known) this program knows; use a newer build"
        case .invalidConfiguration(let why):
            "SQLite: invalid configuration: \(why)"
        case .closed(let path):
            "SQLite: \(path) is closed"
        }
    }
}

/// The message SQLite holds for the last failure on `handle`.
func sqliteMessage(_ handle: OpaquePointer?) -> String {
    guard let handle, let text = sqlite3_errmsg(handle) else { return "unknown error" }
    return String(cString: text)
}
