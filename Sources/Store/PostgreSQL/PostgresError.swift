/// A failure reported by PostgreSQL or libpq, or a misuse of the wrapper, naming the SQL at fault.
///
/// `sqlState` is PostgreSQL's five-character SQLSTATE (`23505` unique violation, `53100` disk
/// full, `08006` connection failure, …) when the server reported one. A `location` is the catalog
/// URL without its password.
public enum PostgresError: Error, Equatable, CustomStringConvertible {
    /// No connection could be made (refused, authentication, unknown database, …).
    case connect(location: String, message: String)
    /// A recent connection attempt failed and the backoff has not passed: the server is not tried
    /// again before `retryInSeconds`.
    case unavailable(location: String, message: String, retryInSeconds: Double)
    /// The statement failed on the server, or the connection broke while it ran (`sqlState` nil).
    case query(sql: String, sqlState: String?, message: String)
    /// The statement takes `expected` parameters but `given` values were passed.
    case bindingCount(sql: String, expected: Int, given: Int)
    /// A text parameter holds a NUL character, which PostgreSQL's text type cannot store.
    case nulInText(sql: String, parameter: Int)
    /// Column `column` holds `found` where the caller asked for `expected`.
    case columnType(sql: String, column: Int, name: String, expected: String, found: String)
    /// The catalog's schema version is newer than every migration this program knows.
    case schemaTooNew(location: String, found: Int, known: Int)
    /// Every pooled connection stayed busy for the checkout timeout.
    case poolExhausted(location: String, size: Int, waitedSeconds: Double)
    /// A configuration value out of its allowed range, or a URL libpq cannot use.
    case invalidConfiguration(String)
    /// The database was closed.
    case closed(location: String)

    /// PostgreSQL's SQLSTATE, when the server reported one.
    public var sqlState: String? {
        if case .query(_, let state, _) = self { return state }
        return nil
    }

    /// True when the server or the network is the problem (the catalog is unavailable, not the
    /// request wrong): no connection, SQLSTATE class 08 (connection exception), 57P (operator
    /// intervention: shutdown, crash), 53 (insufficient resources), or a connection lost mid-query.
    public var isUnavailable: Bool {
        switch self {
        case .connect, .unavailable, .poolExhausted: return true
        case .query(_, let state, _):
            guard let state else { return true }
            return state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53")
        default: return false
        }
    }

    /// True for disk full on the server (SQLSTATE 53100).
    public var isDiskFull: Bool { sqlState == "53100" }

    /// True for a violated constraint (SQLSTATE class 23).
    public var isConstraintViolation: Bool { sqlState?.hasPrefix("23") ?? false }

    public var description: String {
        switch self {
        case .connect(let location, let message):
            "PostgreSQL: cannot connect to \(location): \(message)"
        case .unavailable(let location, let message, let retry):
            "PostgreSQL: \(location) is unavailable (\(message)); the next attempt in \(String(format: "%.1f", retry)) s"
        case .query(let sql, let state, let message):
            "PostgreSQL: \(quoted(sql, limit: 200)) failed: \(message)\(state.map { " (SQLSTATE \($0))" } ?? " (connection lost)")"
        case .bindingCount(let sql, let expected, let given):
            "PostgreSQL: \(quoted(sql, limit: 200)) takes \(expected) parameters, \(given) were given"
        case .nulInText(let sql, let parameter):
            "PostgreSQL: parameter \(parameter) of \(quoted(sql, limit: 200)) holds a NUL character, which a text column cannot store"
        case .columnType(let sql, let column, let name, let expected, let found):
            "PostgreSQL: column \(column) (\(name)) of \(quoted(sql, limit: 200)) holds \(found), expected \(expected)"
        case .schemaTooNew(let location, let found, let known):
            "PostgreSQL: \(location) has catalog schema version \(found), newer than the \(known) this program knows; use a newer build"
        case .poolExhausted(let location, let size, let waited):
            "PostgreSQL: all \(size) connections to \(location) stayed busy for \(String(format: "%.1f", waited)) s"
        case .invalidConfiguration(let why):
            "PostgreSQL: invalid configuration: \(why)"
        case .closed(let location):
            "PostgreSQL: the connection pool for \(location) is closed"
        }
    }
}
