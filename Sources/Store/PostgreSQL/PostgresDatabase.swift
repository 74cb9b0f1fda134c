import CLibPQ
import Foundation
import Logging

/// A PostgreSQL database shared by every replica of the service: a pool of libpq connections, safe
/// to use from many threads (see `CatalogDatabase` for what each call guarantees).
///
/// - `read` checks a connection out and runs `body` in a `REPEATABLE READ, READ ONLY` transaction:
///   one snapshot of the last commit, never waiting for a writer.
/// - `withConnection` holds a session advisory lock (`pg_advisory_lock`, keyed by the database and
///   schema) for the whole closure: the catalog's writers take turns across every replica, as they
///   take turns on SQLite's one writer connection, so a write can commit and then act on the shared
///   blob directory with no other write in between. A replica that dies holding it releases it with
///   its session. Waiting for it is bounded by `lockTimeout` (`lock_timeout` on the session).
/// - A connection the server or the network broke is dropped when it comes back to the pool; the
///   next checkout connects again. After a failed connect, further attempts wait a backoff that
///   doubles from 100 ms to `maxBackoff`, and calls in between fail at once with
///   `PostgresError.unavailable` (a readiness probe answers 503 quickly instead of hanging).
///
/// Blocking: every call blocks its thread for a network round trip or more. Call it off Swift's
/// cooperative threads (the service's `CatalogExecutor` does). Waiting for a free connection uses a
/// condition variable, the one place the Store waits rather than locks.
public final class PostgresDatabase: CatalogDatabase, @unchecked Sendable {
    public let configuration: Configuration
    /// The URL without its password.
    public let location: String
    /// The advisory lock keys: writers, and migrations (see `PostgresDatabase+Migrations`).
    let writerLockKey: Int64
    let migrationLockKey: Int64
    /// The database and schema the URL leads to (the scope of every advisory lock key).
    let database: String
    let schema: String
    let logger: Logger

    // Pool state, guarded by `condition` (`@unchecked Sendable` above is sound because of it).
    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var opened = 0
    private var closed = false
    private var backoff: Duration = .zero
    private var retryAt: ContinuousClock.Instant?
    private var lastConnectError = ""

    /// Connects once (failing here if the server is unreachable or the URL wrong), then pools.
    public init(configuration: Configuration, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.location = Configuration.redacted(configuration.url)
        self.logger = logger
        let first = try Self.connect(configuration, location: location)
        let scope = try first.queryFirst("SELECT current_database(), current_schema()") {
            (try $0.column(0) as String, try $0.column(1) as String?)
        }
        guard let (database, schema) = scope, let schema else {
            throw PostgresError.invalidConfiguration("\(location): no schema on the search_path exists (create it, or fix options=-csearch_path)")
        }
        self.database = database
        self.schema = schema
        writerLockKey = try Self.lockKey("lora-squeeze catalog writer", database, schema)
        migrationLockKey = try Self.lockKey("lora-squeeze catalog migration", database, schema)
        idle = [first]
        opened = 1
        logger.debug("connected to PostgreSQL", metadata: ["location": "\(location)", "schema": "\(schema)"])
    }

    deinit { close() }

    // MARK: CatalogDatabase

    @discardableResult
    public func read<T>(_ body: (any DatabaseConnection) throws -> T) throws -> T {
        try withPooledConnection { connection in
            try connection.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY") { try body(connection) }
        }
    }

    @discardableResult
    public func withConnection<T>(_ body: (any DatabaseConnection) throws -> T) throws -> T {
        try withPooledConnection { connection in
            try connection.run("SELECT pg_advisory_lock(CAST(? AS BIGINT))", [writerLockKey])
            defer {
                // When the unlock cannot be sent the connection is broken, and closing it (the pool
                // drops broken connections) ends the session and releases the lock with it.
                _ = try? connection.run("SELECT pg_advisory_unlock(CAST(? AS BIGINT))", [writerLockKey])
            }
            return try body(connection)
        }
    }

    @discardableResult
    public func transaction<T>(_ body: (any DatabaseConnection) throws -> T) throws -> T {
        try withConnection { connection in try connection.transaction { try body(connection) } }
    }

    public func isClosedError(_ error: any Error) -> Bool {
        if case PostgresError.closed = error { return true }
        return false
    }

    /// `pg_try_advisory_lock` on a connection of its own (not the pool's: a computation may hold
    /// it for minutes), closed on release, which ends the session and so releases the lock even if
    /// the unlock could not be sent. A replica that dies holding it releases it with its connection.
    public func tryComputeLock(_ name: String) throws -> ComputeLock? {
        condition.lock()
        let isClosed = closed
        condition.unlock()
        if isClosed { throw PostgresError.closed(location: location) }
        let key = try Self.lockKey("lora-squeeze compute \(name)", database, schema)
        let connection = try Self.connect(configuration, location: location)
        guard try connection.queryFirst("SELECT pg_try_advisory_lock(CAST(? AS BIGINT))", [key], { try $0.column(0) as Bool }) == true else {
            return nil   // the connection closes as it goes
        }
        let held = UncheckedConnection(connection)
        return ComputeLock {
            _ = try? held.connection.run("SELECT pg_advisory_unlock(CAST(? AS BIGINT))", [key])
        }
    }

    public func close() {
        condition.lock()
        closed = true
        let connections = idle
        idle = []
        opened -= connections.count
        condition.broadcast()
        condition.unlock()
        _ = connections   // PQfinish runs as they go
    }

    /// Connections open now (idle and checked out), for tests and metrics.
    public var openConnections: Int {
        condition.lock()
        defer { condition.unlock() }
        return opened
    }

    // MARK: The pool

    /// Checks a connection out, runs `body`, and returns it (or drops it, if it broke).
    func withPooledConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try checkout()
        defer { checkin(connection) }
        return try body(connection)
    }

    private func checkout() throws -> PostgresConnection {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.checkoutTimeout
        condition.lock()
        while true {
            if closed {
                condition.unlock()
                throw PostgresError.closed(location: location)
            }
            if let connection = idle.popLast() {
                condition.unlock()
                return connection
            }
            if opened < configuration.poolSize {
                if let retryAt, clock.now < retryAt {
                    let message = lastConnectError
                    condition.unlock()
                    throw PostgresError.unavailable(location: location, message: message,
                                                    retryInSeconds: Self.seconds(retryAt - clock.now))
                }
                opened += 1
                condition.unlock()
                do {
                    let connection = try Self.connect(configuration, location: location)
                    condition.lock()
                    backoff = .zero
                    retryAt = nil
                    condition.unlock()
                    return connection
                } catch {
                    condition.lock()
                    opened -= 1
                    backoff = min(backoff == .zero ? .milliseconds(100) : backoff * 2, configuration.maxBackoff)
                    retryAt = backoff == .zero ? nil : clock.now + backoff
                    lastConnectError = "\(error)"
                    condition.signal()
                    condition.unlock()
                    logger.warning("cannot connect to PostgreSQL", metadata: [
                        "location": "\(location)", "error": "\(error)", "retry_in_s": "\(Self.seconds(backoff))"])
                    throw error
                }
            }
            let now = clock.now
            guard now < deadline else {
                condition.unlock()
                throw PostgresError.poolExhausted(location: location, size: configuration.poolSize,
                                                  waitedSeconds: Self.seconds(configuration.checkoutTimeout))
            }
            _ = condition.wait(until: Date().addingTimeInterval(Self.seconds(deadline - now)))
        }
    }

    private func checkin(_ connection: PostgresConnection) {
        // A connection left inside a transaction (a failed ROLLBACK) or broken is not reused.
        let reusable = connection.isHealthy && connection.isIdle
        condition.lock()
        if reusable && !closed {
            idle.append(connection)
        } else {
            opened -= 1
        }
        condition.signal()
        condition.unlock()
        if !reusable {
            logger.info("dropped a PostgreSQL connection that broke or was left in a transaction",
                        metadata: ["location": "\(location)"])
        }
    }

    /// A new connection with the session settings applied.
    private static func connect(_ configuration: Configuration, location: String) throws -> PostgresConnection {
        let keywords = ["dbname", "connect_timeout", "application_name", "client_encoding"]
        let values = [configuration.url, String(configuration.connectTimeoutSeconds), configuration.applicationName, "UTF8"]
        let handle: OpaquePointer? = keywords.withCStrings { cKeywords in
            values.withCStrings { cValues in PQconnectdbParams(cKeywords, cValues, 1) }
        }
        guard let handle else { throw PostgresError.connect(location: location, message: "libpq could not allocate a connection") }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = PostgresConnection.message(PQerrorMessage(handle))
            PQfinish(handle)
            throw PostgresError.connect(location: location, message: message)
        }
        // Server notices (`CREATE TABLE IF NOT EXISTS` … skipping) would go to standard error as raw
        // text; nothing the catalog does needs them.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        let connection = PostgresConnection(handle: handle, location: location)
        // lock_timeout 0 means "wait forever" to PostgreSQL: a timeout under a millisecond (zero
        // included) is one millisecond, so it still fails at once as SQLite's zero busy timeout does.
        // bytea_output and extra_float_digits are pinned whatever the database's defaults: the row
        // reader decodes hex bytea, and doubles must print in their shortest exact form.
        let lockTimeout = max(1, configuration.lockTimeout.components.seconds * 1000
                              + configuration.lockTimeout.components.attoseconds / 1_000_000_000_000_000)
        try connection.execute("SET lock_timeout = \(lockTimeout); SET bytea_output = 'hex'; SET extra_float_digits = 1")
        return connection
    }

    static func lockKey(_ purpose: String, _ database: String, _ schema: String) throws -> Int64 {
        let digest = try SHA256.hash(Data("\(purpose)|\(database)|\(schema)".utf8))
        return digest.rawBytes.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// A connection owned by exactly one `ComputeLock` and used only by its release, once: safe to send.
private final class UncheckedConnection: @unchecked Sendable {
    let connection: PostgresConnection
    init(_ connection: PostgresConnection) { self.connection = connection }
}

extension Array where Element == String {
    /// Runs `body` with the strings as a NULL-terminated array of C strings (libpq's keyword lists).
    fileprivate func withCStrings<R>(_ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies = map { strdup($0) }
        defer { for copy in copies { free(copy) } }
        return body(copies.map { UnsafePointer($0) } + [nil])
    }
}
