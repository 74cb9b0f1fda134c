import Foundation
import Locking
import Testing
@testable import Store

// The PostgreSQL layer under the catalog, tested on the throwaway cluster of Tests/Postgres/with-cluster.sh
// (LORA_SQUEEZE_TEST_POSTGRES). One file for the whole layer (as the task asked), several suites: longer
// than most files because the suites share the support below (scratch schemas, threads) and nothing else uses it.
// Suites that need the server are `.enabled(if: CatalogFixture.onPostgres)`; the ones that do not
// (lock keys, error classification, an unreachable server) run always.

// MARK: - Support

/// A throwaway schema on the test cluster. `open` connects a `PostgresDatabase` to it (a "replica");
/// `drop` removes it with everything in it. `tag` is unique to the scratch and starts every application
/// name it gives, so queries on `pg_stat_activity` and `pg_locks` see this test's sessions only.
struct PostgresScratch: Sendable {
    let schema: String
    let tag: String
    let url: String
    private let baseURL: String
    private let settings: [String: String]

    /// `settings` are session defaults (`-c name=value` in libpq's `options`), as a DBA's
    /// `ALTER DATABASE … SET` would give every session.
    init(settings: [String: String] = [:]) throws {
        guard let base = CatalogFixture.postgresURL else { throw PostgresError.invalidConfiguration("no test cluster") }
        schema = try PostgresTestSchemas.create()
        tag = "lsq" + schema.dropFirst(2).prefix(10)
        baseURL = base
        self.settings = settings
        url = Self.url(base, user: nil, schema: schema, settings: settings)
    }

    func drop() { PostgresTestSchemas.drop(schema) }

    /// The URL for this schema, connecting as `user` when given.
    func url(user: String?) -> String { Self.url(baseURL, user: user, schema: schema, settings: settings) }

    func open(poolSize: Int = 2, checkoutTimeout: Duration = .seconds(5), lockTimeout: Duration = .seconds(5),
              maxBackoff: Duration = .seconds(5), user: String? = nil, name: String = "",
              applicationName: String? = nil) throws -> PostgresDatabase {
        try PostgresDatabase(configuration: .init(url: url(user: user), poolSize: poolSize, checkoutTimeout: checkoutTimeout,
                                                  lockTimeout: lockTimeout, connectTimeoutSeconds: 5, maxBackoff: maxBackoff,
                                                  applicationName: applicationName ?? (name.isEmpty ? tag : tag + "-" + name)),
                             logger: makeLogger())
    }

    /// How many of this scratch's sessions wait for an advisory lock right now.
    func advisoryWaiters(_ monitor: PostgresDatabase) throws -> Int {
        try monitor.read { connection in
            try connection.queryFirst("""
                SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name LIKE ?
                """, [tag + "%"]) { try $0.column(0) as Int } ?? 0
        }
    }

    /// Waits (at most 5 s) until `count` of this scratch's sessions wait for an advisory lock.
    func waitForAdvisoryWaiters(_ count: Int, _ monitor: PostgresDatabase) throws -> Bool {
        try waitUntil { try advisoryWaiters(monitor) == count }
    }

    private static func url(_ base: String, user: String?, schema: String, settings: [String: String]) -> String {
        var text = base
        if let user, var components = URLComponents(string: base) {
            components.user = user
            text = components.string ?? base
        }
        let options = (["-csearch_path=\(schema)"] + settings.sorted { $0.key < $1.key }.map { "-c\($0.key)=\($0.value)" })
            .joined(separator: " ")
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        return text + (text.contains("?") ? "&" : "?") + "options=" + (options.addingPercentEncoding(withAllowedCharacters: allowed) ?? options)
    }
}

/// Polls `condition` every 5 ms for at most `timeout`; the sleep only bounds the polling.
func waitUntil(_ timeout: Duration = .seconds(5), _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        usleep(5_000)
    }
    return try condition()
}

extension DispatchSemaphore {
    /// True when signalled within `timeout`.
    func wait(for timeout: Duration) -> Bool {
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        return wait(timeout: .now() + .nanoseconds(Int(nanoseconds))) == .success
    }
}

/// `body` run on a thread of its own: real concurrency, off Swift's cooperative threads. Issues are
/// recorded by the test's own thread from what `result` returns, never from inside `body`.
final class Spawned<Value: Sendable>: Sendable {
    struct StillRunning: Error {}
    private let outcome = Locked<Result<Value, any Error>?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws -> Value) {
        let box = self.outcome, done = self.finished
        Thread {
            let result = Result { try body() }
            box.withLock { $0 = result }
            done.signal()
        }.start()
    }

    /// What `body` returned or threw, or nil while it is still running after `timeout`.
    func result(within timeout: Duration = .seconds(10)) -> Result<Value, any Error>? {
        if let done = outcome.withLock({ $0 }) { return done }
        guard finished.wait(for: timeout) else { return nil }
        finished.signal()   // for the next caller
        return outcome.withLock { $0 }
    }

    /// What `body` returned; rethrows what it threw, or `StillRunning`.
    func value(within timeout: Duration = .seconds(10)) throws -> Value {
        guard let result = result(within: timeout) else { throw StillRunning() }
        return try result.get()
    }
}

/// The server process behind the connection a call gets.
func backendPID(_ database: PostgresDatabase) throws -> Int {
    try database.read { try $0.queryFirst("SELECT pg_backend_pid()") { try $0.column(0) as Int } } ?? -1
}

func rowCount(_ connection: any DatabaseConnection, _ table: String) throws -> Int {
    try connection.queryFirst("SELECT count(*) FROM \(table)") { try $0.column(0) as Int } ?? -1
}

struct Abort: Error {}

// MARK: - Values, bindings, rows

@Suite("PostgresDatabase: values, bindings, rows", .enabled(if: CatalogFixture.onPostgres))
struct PostgresDatabaseTests {
    /// 1 MiB of text, one to four bytes a character.
    static let mebibyteText = String(repeating: "aé☃𝄞", count: 104_857) + "abcdef"
    static let mebibyteBlob = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) })

    enum Column: String, CaseIterable, Sendable {
        case bigint = "BIGINT", double = "DOUBLE PRECISION", text = "TEXT", bytea = "BYTEA"

        var values: [DatabaseValue] {
            switch self {
            case .bigint:
                return [.integer(.min), .integer(.max), 0, -1, 1, .integer(Int64(Int32.max) + 1), .null]
            case .double:
                return [0.0, .real(-0.0), .real(.leastNonzeroMagnitude), .real(-.leastNonzeroMagnitude), .real(Double(sign: .plus, exponent: -1030, significand: 1)),
                        .real(Double.leastNormalMagnitude.nextDown), .real(.leastNormalMagnitude), .real(.greatestFiniteMagnitude),
                        .real(-.greatestFiniteMagnitude), .real(.infinity), .real(-.infinity), .real(.nan), 0.1, .real(0.1 + 0.2),
                        .real(1.0 / 3.0), .real(Double(Int64.max)), .real(1e-5), .real(123456789012345680), .null]
            case .text:
                return ["", " ", "a", "naïve ☃ 𝄞 👩‍👩‍👧 日本語", "it's \"quoted\" \\ back\\slash\n\ttab\r", "'; DROP TABLE v; --", "?1 $1 ?",
                        "\u{7f}\u{1}", .text(PostgresDatabaseTests.mebibyteText), .null]
            case .bytea:
                return [.blob(Data()), .blob(Data(0...255)), .blob(Data([0])), .blob(Data("\\x00".utf8)),
                        .blob(PostgresDatabaseTests.mebibyteBlob), .null]
            }
        }

        /// `value` bound through its Swift type; NULL through the column type's Optional.
        func typed(_ value: DatabaseValue) -> any DatabaseBindable {
            switch value {
            case .integer(let number): return number
            case .real(let number): return number
            case .text(let text): return text
            case .blob(let data): return data
            case .null:
                switch self {
                case .bigint: return Int64?.none
                case .double: return Double?.none
                case .text: return String?.none
                case .bytea: return Data?.none
                }
            }
        }
    }

    /// Bit for bit (so -0.0 is not 0.0), NaN equal to NaN.
    static func same(_ a: DatabaseValue, _ b: DatabaseValue) -> Bool {
        if case .real(let x) = a, case .real(let y) = b { return (x.isNaN && y.isNaN) || x.bitPattern == y.bitPattern }
        return a == b
    }

    static func describe(_ value: DatabaseValue) -> String {
        switch value {
        case .text(let text) where text.utf8.count > 80: "text of \(text.utf8.count) bytes"
        case .blob(let data): "blob of \(data.count) bytes"
        default: "\(value)"
        }
    }

    /// PostgreSQL keeps NaN in DOUBLE PRECISION (SQLite stores NULL for a NaN binding): it reads back as NaN.
    @Test("every value round-trips through its column, bound as DatabaseValue and as its Swift type", arguments: Column.allCases)
    func roundTrip(_ column: Column) throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        try database.withConnection { connection in
            try connection.execute("CREATE TABLE v (id BIGSERIAL PRIMARY KEY, x \(column.rawValue))")
            for value in column.values {
                try connection.run("INSERT INTO v (x) VALUES (?)", [value])
                try connection.run("INSERT INTO v (x) VALUES (?)", [column.typed(value)])
            }
            let read = try connection.query("SELECT x FROM v ORDER BY id") { $0.value(0) }
            let expected = column.values.flatMap { [$0, $0] }
            #expect(read.count == expected.count)
            for (got, wanted) in zip(read, expected) {
                #expect(Self.same(got, wanted), "\(Self.describe(wanted)) read back as \(Self.describe(got))")
            }
        }
    }

    @Test("typed nil binds NULL of its type and reads back as nil")
    func typedNulls() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        try database.withConnection { connection in
            try connection.execute("CREATE TABLE n (id BIGINT, i BIGINT, r DOUBLE PRECISION, s TEXT, b BYTEA)")
            try connection.run("INSERT INTO n VALUES (1, ?, ?, ?, ?)", [Int?.none, Double?.none, String?.none, Data?.none])
            try connection.run("INSERT INTO n VALUES (2, ?, ?, ?, ?)", [Int?(7), Double?(2.5), String?("s"), Data?(Data([1]))])
            let rows = try connection.query("SELECT i, r, s, b FROM n ORDER BY id") { row in
                (try row.column(0) as Int?, try row.column(1) as Double?, try row.column(2) as String?, try row.column(3) as Data?,
                 (0..<4).map(row.isNull))
            }
            try #require(rows.count == 2)
            #expect(rows[0].0 == nil && rows[0].1 == nil && rows[0].2 == nil && rows[0].3 == nil)
            #expect(rows[0].4 == [true, true, true, true])
            #expect(rows[1].0 == 7 && rows[1].1 == 2.5 && rows[1].2 == "s" && rows[1].3 == Data([1]))
            #expect(rows[1].4 == [false, false, false, false])
            // The parameter's type is the Swift type's, even for nil: the same SQL, prepared once per type.
            let typeOf: [(any DatabaseBindable, String)] = [
                (Int?.none, "bigint"), (Int32?.none, "bigint"), (Bool?.none, "bigint"), (Double?.none, "double precision"),
                (String?.none, "text"), (Data?.none, "bytea"), (DatabaseValue.text("x"), "text"), (DatabaseValue.integer(1), "bigint"),
            ]
            for (binding, name) in typeOf {
                #expect(try connection.queryFirst("SELECT CAST(pg_typeof(?) AS TEXT)", [binding]) { try $0.column(0) as String } == name)
            }
        }
    }

    @Test("sum() of BIGINT decodes as Int, avg as Double, bool as Bool, int2/int4 as Int")
    func serverTypes() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        try database.read { connection in
            let sql = """
                SELECT sum(x), avg(x), count(*), bool_and(x > 0), 1 = 1, 1 = 2, CAST(7 AS SMALLINT), CAST(8 AS INTEGER),
                       CAST(NULL AS BOOLEAN), (SELECT sum(y) FROM (SELECT CAST(1 AS BIGINT) AS y WHERE false) AS empty)
                FROM (VALUES (CAST(1 AS BIGINT)), (CAST(2 AS BIGINT))) AS v(x)
                """
            let row = try #require(try connection.queryFirst(sql) { row in
                (try row.column(0) as Int, row.value(0), try row.column(1) as Double, try row.column(2) as Int,
                 try row.column(3) as Bool, try row.column(4) as Bool, try row.column(5) as Bool, try row.column(4) as Int,
                 try row.column(6) as Int, try row.column(7) as Int, try row.column(8) as Bool?, try row.column(9) as Int?)
            })
            #expect(row.0 == 3 && row.1 == .integer(3) && row.2 == 1.5 && row.3 == 2)
            #expect(row.4 == true && row.5 == true && row.6 == false && row.7 == 1)
            #expect(row.8 == 7 && row.9 == 8 && row.10 == nil && row.11 == nil)
        }
    }

    /// A `numeric` with no fractional value but a scale (`3.00`), or past Int64, decodes as REAL: the
    /// first is what `PostgresRow` documents only loosely ("an integer when it has no fraction"), the
    /// second loses precision silently (9223372036854775808 becomes the nearest double).
    @Test("numeric past Int64, or with a scale, decodes as REAL")
    func numericEdges() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        try database.read { connection in
            let sql = "SELECT sum(x), CAST(3 AS NUMERIC(10, 2)), CAST(-9223372036854775808 AS NUMERIC) FROM (VALUES (CAST(9223372036854775807 AS BIGINT)), (CAST(1 AS BIGINT))) AS v(x)"
            let values = try #require(try connection.queryFirst(sql) { [$0.value(0), $0.value(1), $0.value(2)] })
            #expect(values == [.real(9_223_372_036_854_775_808), .real(3), .integer(.min)])
            #expect(throws: PostgresError.columnType(sql: sql, column: 0, name: "sum", expected: "INTEGER", found: "REAL")) {
                _ = try connection.queryFirst(sql) { try $0.column(0) as Int }
            }
        }
    }

    @Test("a column of another type throws PostgresError.columnType naming the column")
    func columnTypeMismatch() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        try database.read { connection in
            let sql = "SELECT CAST('x' AS TEXT) AS label, CAST(NULL AS TEXT) AS missing, 1 AS n, CAST(2.5 AS DOUBLE PRECISION) AS r"
            let cases: [(Int, String, String, String, (any DatabaseRow) throws -> Void)] = [
                (0, "label", "INTEGER", "TEXT", { _ = try $0.column(0) as Int }),
                (0, "label", "REAL", "TEXT", { _ = try $0.column(0) as Double }),
                (1, "missing", "TEXT", "NULL", { _ = try $0.column(1) as String }),
                (2, "n", "BLOB", "INTEGER", { _ = try $0.column(2) as Data }),
                (2, "n", "TEXT or NULL", "INTEGER", { _ = try $0.column(2) as String? }),
                (3, "r", "INTEGER", "REAL", { _ = try $0.column(3) as Int64 }),
            ]
            for (column, name, expected, found, read) in cases {
                let error = PostgresError.columnType(sql: sql, column: column, name: name, expected: expected, found: found)
                #expect(throws: error) { _ = try connection.queryFirst(sql) { try read($0) } }
                #expect(error.description.contains("(\(name))"))
            }
            // Optional reads of NULL are nil, not errors; columnName spells the aliases.
            let missing = try connection.queryFirst(sql) { try $0.column(1) as String? }
            #expect(missing == .some(nil))
            #expect(try connection.queryFirst(sql) { row in (0..<row.columnCount).map(row.columnName) } == ["label", "missing", "n", "r"])
        }
    }

    @Test("a text parameter holding NUL is refused before the statement runs")
    func nulInText() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(poolSize: 1)
        defer { database.close() }
        try database.withConnection { connection in
            try connection.execute("CREATE TABLE t (s TEXT, u TEXT)")
            let sql = "INSERT INTO t (s, u) VALUES (?, ?)"
            #expect(throws: PostgresError.nulInText(sql: sql, parameter: 2)) { try connection.run(sql, ["ok", "a\u{0}b"]) }
            #expect(throws: PostgresError.nulInText(sql: sql, parameter: 1)) { try connection.run(sql, ["\u{0}", "ok"]) }
            #expect(throws: PostgresError.nulInText(sql: sql, parameter: 1)) { try connection.run(sql, [DatabaseValue.text("end\u{0}"), "ok"]) }
            #expect(try rowCount(connection, "t") == 0)
            // Not a server error: the session is untouched and the same statement runs.
            #expect((connection as? PostgresConnection)?.isIdle == true)
            #expect(try connection.run(sql, ["a", "b"]) == 1)
            // Inside a transaction the refusal rolls back what came before, like any error.
            #expect(throws: PostgresError.nulInText(sql: sql, parameter: 1)) {
                try connection.transaction {
                    try connection.run(sql, ["c", "d"])
                    try connection.run(sql, ["\u{0}", "d"])
                }
            }
            #expect(try rowCount(connection, "t") == 1)
        }
    }

    @Test("a wrong binding count is refused before the statement is prepared; a right one is prepared once")
    func bindingCount() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(poolSize: 1)
        defer { database.close() }
        try database.withConnection { connection in
            try connection.execute("CREATE TABLE t (s TEXT, u TEXT)")
            let sql = "INSERT INTO t (s, u) VALUES (?, ?) -- marked"
            for (given, bindings) in [(1, ["a"]), (3, ["a", "b", "c"]), (0, [])] as [(Int, [String])] {
                #expect(throws: PostgresError.bindingCount(sql: sql, expected: 2, given: given)) { try connection.run(sql, bindings) }
            }
            #expect(throws: PostgresError.bindingCount(sql: "SELECT 1", expected: 0, given: 1)) { try connection.run("SELECT 1", [1]) }
            #expect(throws: PostgresError.bindingCount(sql: "SELECT ?1, ?1", expected: 1, given: 2)) {
                try connection.run("SELECT ?1, ?1", [1, 2])
            }
            #expect(throws: PostgresError.bindingCount(sql: "SELECT ?3", expected: 3, given: 1)) { try connection.run("SELECT ?3", [1]) }
            let prepared = { try connection.queryFirst("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE ?",
                                                       ["%-- mark" + "ed"]) { try $0.column(0) as Int } }
            #expect(try prepared() == 0)
            for _ in 0..<3 { try connection.run(sql, ["a", "b"]) }
            #expect(try prepared() == 1)
            #expect(try rowCount(connection, "t") == 3)
        }
    }

    /// The reason bindings carry their types: `?1 IS NULL` alone tells PostgreSQL nothing about `?1`.
    @Test("?1 IS NULL OR col = ?1 works with typed nil and non-nil bindings")
    func optionalFilter() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        try database.withConnection { connection in
            try connection.execute("CREATE TABLE p (name TEXT, rank BIGINT); INSERT INTO p VALUES ('a', 1), ('b', 2), (NULL, NULL)")
            let byName = "SELECT count(*) FROM p WHERE ?1 IS NULL OR name = ?1"
            let byRank = "SELECT count(*) FROM p WHERE ?1 IS NULL OR rank = ?1"
            let count = { (sql: String, binding: any DatabaseBindable) in try connection.queryFirst(sql, [binding]) { try $0.column(0) as Int } }
            #expect(try count(byName, String?.none) == 3)
            #expect(try count(byName, String?("a")) == 1)
            #expect(try count(byName, "b") == 1)
            #expect(try count(byName, String?("zzz")) == 0)
            #expect(try count(byRank, Int?.none) == 3)
            #expect(try count(byRank, Int?(2)) == 1)
            #expect(try count(byRank, Int64?(9)) == 0)
            // Typed nil alone is enough; an untyped NULL cannot be prepared (SQLSTATE 42P18).
            #expect(try connection.queryFirst("SELECT ? IS NULL", [String?.none]) { try $0.column(0) as Bool } == true)
            let error = try #require(throws: PostgresError.self) {
                try connection.queryFirst("SELECT ? IS NULL", [DatabaseValue.null]) { try $0.column(0) as Bool }
            }
            #expect(error.sqlState == "42P18")
        }
    }

    @Test("?0 reaches the server as $0 and is refused there (SQLSTATE 42P02)")
    func markerZero() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        let error = try #require(throws: PostgresError.self) { try database.read { try $0.run("SELECT ?0", []) } }
        #expect(error.sqlState == "42P02")
    }

    /// `PostgresRow` decodes `bytea` only in the hex output format, and doubles only when the server
    /// prints them exactly (`extra_float_digits` ≥ 1); neither is set on the session, so a database
    /// whose defaults differ (`ALTER DATABASE … SET bytea_output = 'escape'`) breaks blob reads.
    @Test("blobs read back when the database's bytea_output is 'escape'")
    func byteaEscapeOutput() throws {
        let scratch = try PostgresScratch(settings: ["bytea_output": "escape"])
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        try database.withConnection { connection in
            try connection.execute("CREATE TABLE b (x BYTEA)")
            try connection.run("INSERT INTO b VALUES (?)", [Data(0...255)])
            #expect(try connection.queryFirst("SELECT x FROM b") { try $0.column(0) as Data } == Data(0...255))
        }
    }

    @Test("doubles round-trip exactly when the database's extra_float_digits is 0")
    func extraFloatDigitsZero() throws {
        let scratch = try PostgresScratch(settings: ["extra_float_digits": "0"])
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        try database.withConnection { connection in
            try connection.execute("CREATE TABLE d (x DOUBLE PRECISION)")
            try connection.run("INSERT INTO d VALUES (?)", [0.1 + 0.2])
            #expect(try connection.queryFirst("SELECT x FROM d") { try $0.column(0) as Double } == 0.1 + 0.2)
        }
    }
}

// MARK: - Transactions and reads

@Suite("PostgresDatabase: transactions and read snapshots", .enabled(if: CatalogFixture.onPostgres))
struct PostgresTransactionTests {
    @Test("commit, rollback on throw, a failing statement rolls back the earlier ones, the connection is reused")
    func transactions() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(poolSize: 1)
        defer { database.close() }
        let other = try scratch.open(poolSize: 1)
        defer { other.close() }
        let pid = try backendPID(database)
        try database.withConnection { try $0.execute("CREATE TABLE u (x BIGINT UNIQUE)") }
        let values = { try other.read { try $0.query("SELECT x FROM u ORDER BY x") { try $0.column(0) as Int } } }

        let changed = try database.transaction { try $0.run("INSERT INTO u VALUES (1)") + $0.run("INSERT INTO u VALUES (2)") }
        #expect(changed == 2)
        #expect(try values() == [1, 2])

        #expect(throws: Abort.self) {
            try database.transaction { connection in
                try connection.run("INSERT INTO u VALUES (3)")
                throw Abort()
            }
        }
        let duplicate = try #require(throws: PostgresError.self) {
            try database.transaction { connection in
                try connection.run("INSERT INTO u VALUES (4)")
                try connection.run("INSERT INTO u VALUES (1)")
            }
        }
        #expect(duplicate.sqlState == "23505" && duplicate.isConstraintViolation && !duplicate.isUnavailable)
        // A failure the closure swallows still aborts the transaction: COMMIT reports it, not success.
        let swallowed = try #require(throws: PostgresError.self) {
            try database.transaction { connection in
                try connection.run("INSERT INTO u VALUES (5)")
                _ = try? connection.run("INSERT INTO u VALUES (1)")
                return 5
            }
        }
        #expect(swallowed.sqlState == "25P02")
        // The same on a connection's own transaction, inside withConnection.
        #expect(throws: Abort.self) {
            try database.withConnection { connection in
                try connection.transaction {
                    try connection.run("INSERT INTO u VALUES (6)")
                    throw Abort()
                }
            }
        }
        #expect(try values() == [1, 2])
        // Every failure left the one connection idle and in the pool.
        #expect(try backendPID(database) == pid)
        #expect(database.openConnections == 1)
        #expect(try database.withConnection { ($0 as? PostgresConnection)?.isIdle } == true)
        try database.transaction { try $0.run("INSERT INTO u VALUES (3)") }
        #expect(try values() == [1, 2, 3])
    }

    /// SQLite refuses `BEGIN` inside a transaction; PostgreSQL only warns, so the inner `COMMIT`
    /// commits the outer transaction's work and a later throw cannot roll it back.
    @Test("a transaction nested in another is refused and does not commit the outer one")
    func nestedTransaction() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(poolSize: 1)
        defer { database.close() }
        try database.withConnection { try $0.execute("CREATE TABLE u (x BIGINT)") }
        #expect(throws: PostgresError.self) {
            try database.transaction { connection in try connection.transaction { try connection.run("INSERT INTO u VALUES (1)") } }
        }
        #expect(throws: Abort.self) {
            try database.transaction { connection in
                try connection.run("INSERT INTO u VALUES (2)")
                _ = try? connection.transaction { try connection.run("INSERT INTO u VALUES (3)") }
                throw Abort()
            }
        }
        #expect(try database.read { try rowCount($0, "u") } == 0)
    }

    @Test("read is one snapshot: a commit made meanwhile by another replica shows in the next read only")
    func readSnapshot() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let reader = try scratch.open(name: "reader")
        defer { reader.close() }
        let writer = try scratch.open(name: "writer")
        defer { writer.close() }
        try writer.withConnection { try $0.execute("CREATE TABLE t (x BIGINT)") }
        let seen = try reader.read { connection in
            let before = try rowCount(connection, "t")
            try writer.transaction { try $0.run("INSERT INTO t VALUES (1)") }
            let during = try rowCount(connection, "t")
            return [before, during]
        }
        #expect(seen == [0, 0])
        #expect(try writer.read { try rowCount($0, "t") } == 1)
        #expect(try reader.read { try rowCount($0, "t") } == 1)
    }

    @Test("read neither waits for a writer nor sees its uncommitted rows")
    func readDuringWrite() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let reader = try scratch.open(lockTimeout: .seconds(1), name: "reader")
        defer { reader.close() }
        let writer = try scratch.open(name: "writer")
        defer { writer.close() }
        try writer.withConnection { try $0.execute("CREATE TABLE t (x BIGINT PRIMARY KEY); INSERT INTO t VALUES (1)") }
        let inside = DispatchSemaphore(value: 0), leave = DispatchSemaphore(value: 0)
        let writing = Spawned {
            try writer.transaction { connection in
                try connection.run("UPDATE t SET x = 10 WHERE x = 1")
                try connection.run("INSERT INTO t VALUES (2)")
                inside.signal()
                leave.wait()
            }
        }
        defer { leave.signal() }
        #expect(inside.wait(for: .seconds(5)))
        let start = ContinuousClock.now
        #expect(try reader.read { try $0.query("SELECT x FROM t ORDER BY x") { try $0.column(0) as Int } } == [1])
        #expect(ContinuousClock.now - start < .milliseconds(900))
        leave.signal()
        _ = try writing.value()
        #expect(try reader.read { try $0.query("SELECT x FROM t ORDER BY x") { try $0.column(0) as Int } } == [2, 10])
    }

    @Test("read refuses writes (READ ONLY, SQLSTATE 25006) and stays usable")
    func readRefusesWrites() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(poolSize: 1)
        defer { database.close() }
        try database.withConnection { try $0.execute("CREATE TABLE t (x BIGINT)") }
        for sql in ["INSERT INTO t VALUES (1)", "UPDATE t SET x = 2", "DELETE FROM t", "CREATE TABLE u (x BIGINT)"] {
            let error = try #require(throws: PostgresError.self) { try database.read { try $0.run(sql, []) } }
            #expect(error.sqlState == "25006", "\(sql)")
        }
        let error = try #require(throws: PostgresError.self) { try database.read { try $0.execute("CREATE TABLE u (x BIGINT)") } }
        #expect(error.sqlState == "25006")
        #expect(try database.read { try rowCount($0, "t") } == 0)
        #expect(database.openConnections == 1)
        try database.transaction { try $0.run("INSERT INTO t VALUES (1)") }
        #expect(try database.read { try rowCount($0, "t") } == 1)
    }
}

// MARK: - Writers across replicas

@Suite("PostgresDatabase: writers take turns across replicas", .enabled(if: CatalogFixture.onPostgres))
struct PostgresWriterLockTests {
    /// Holds `database`'s writer turn on a thread until `leave` is signalled; returns once it is held.
    static func holdWriter(_ database: PostgresDatabase, inTransaction: Bool = false, events: Locked<[String]>? = nil,
                           leave: DispatchSemaphore) throws -> Spawned<Void> {
        let inside = DispatchSemaphore(value: 0)
        let holder = Spawned { () throws -> Void in
            let body: (any DatabaseConnection) throws -> Void = { _ in
                events?.withLock { $0.append("first in") }
                inside.signal()
                leave.wait()
                events?.withLock { $0.append("first out") }
            }
            if inTransaction { try database.transaction(body) } else { try database.withConnection(body) }
        }
        guard inside.wait(for: .seconds(5)) else { throw Spawned<Void>.StillRunning() }
        return holder
    }

    @Test("while one replica is in withConnection, another's withConnection waits on the server until it leaves")
    func exclusive() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let first = try scratch.open(name: "first")
        defer { first.close() }
        let second = try scratch.open(name: "second")
        defer { second.close() }
        let monitor = try scratch.open(poolSize: 1, name: "monitor")
        defer { monitor.close() }
        let events = Locked<[String]>([])
        let leave = DispatchSemaphore(value: 0)
        defer { leave.signal() }
        let holder = try Self.holdWriter(first, events: events, leave: leave)
        let waiter = Spawned { try second.withConnection { _ in events.withLock { $0.append("second in") } } }
        // Blocked on the server for the advisory lock, not just slow to start.
        #expect(try scratch.waitForAdvisoryWaiters(1, monitor))
        #expect(waiter.result(within: .milliseconds(200)) == nil)
        #expect(events.withLock { $0 } == ["first in"])
        leave.signal()
        try holder.value()
        try waiter.value()
        #expect(events.withLock { $0 } == ["first in", "first out", "second in"])
        #expect(try scratch.advisoryWaiters(monitor) == 0)
    }

    @Test("with a short lockTimeout the waiting replica fails with SQLSTATE 55P03, and reads still run")
    func lockTimeout() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let first = try scratch.open(name: "first")
        defer { first.close() }
        let impatient = try scratch.open(poolSize: 1, lockTimeout: .milliseconds(200), name: "impatient")
        defer { impatient.close() }
        let leave = DispatchSemaphore(value: 0)
        defer { leave.signal() }
        let holder = try Self.holdWriter(first, inTransaction: true, leave: leave)
        for call in ["withConnection", "transaction"] {
            let start = ContinuousClock.now
            let error = try #require(throws: PostgresError.self) {
                if call == "withConnection" { try impatient.withConnection { _ in } } else { try impatient.transaction { _ in } }
            }
            let waited = ContinuousClock.now - start
            #expect(error.sqlState == "55P03", "\(call): \(error)")
            #expect(!error.isUnavailable)
            #expect(waited >= .milliseconds(180) && waited < .seconds(3), "\(call) waited \(waited)")
        }
        #expect(try impatient.read { try $0.queryFirst("SELECT 1") { try $0.column(0) as Int } } == 1)
        leave.signal()
        try holder.value()
        #expect(try impatient.withConnection { _ in 7 } == 7)
        #expect(impatient.openConnections == 1)
    }

    /// PostgreSQL's `lock_timeout = 0` means "wait forever": a zero lockTimeout (SQLite's zero busy
    /// timeout fails at once) must not become that.
    @Test("lockTimeout zero fails at once instead of waiting forever")
    func zeroLockTimeoutFailsAtOnce() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let first = try scratch.open(name: "first")
        defer { first.close() }
        let impatient = try scratch.open(poolSize: 1, lockTimeout: .zero, name: "zero")
        defer { impatient.close() }
        let leave = DispatchSemaphore(value: 0)
        let holder = try Self.holdWriter(first, leave: leave)
        let attempt = Spawned { try impatient.withConnection { _ in } }
        let outcome = attempt.result(within: .seconds(2))
        leave.signal()   // frees a waiter that never timed out, so the test ends either way
        try holder.value()
        guard case .failure(let error)? = outcome else {
            Issue.record(outcome == nil ? "still waiting after 2 s" : "acquired the writer turn while another replica held it")
            _ = attempt.result()
            return
        }
        #expect((error as? PostgresError)?.sqlState == "55P03")
    }

    @Test("replicas on different schemas do not wait for each other")
    func otherSchemaDoesNotWait() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let elsewhere = try PostgresScratch()
        defer { elsewhere.drop() }
        let first = try scratch.open()
        defer { first.close() }
        let other = try elsewhere.open(lockTimeout: .seconds(2))
        defer { other.close() }
        let leave = DispatchSemaphore(value: 0)
        defer { leave.signal() }
        let holder = try Self.holdWriter(first, leave: leave)
        let start = ContinuousClock.now
        #expect(try other.transaction { _ in 1 } == 1)
        #expect(ContinuousClock.now - start < .seconds(1))
        leave.signal()
        try holder.value()
    }

    @Test("lock keys: the same for replicas of one schema, different per schema and per purpose")
    func lockKeys() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let elsewhere = try PostgresScratch()
        defer { elsewhere.drop() }
        let a = try scratch.open(), b = try scratch.open(), c = try elsewhere.open()
        defer { a.close(); b.close(); c.close() }
        #expect(a.writerLockKey == b.writerLockKey && a.migrationLockKey == b.migrationLockKey)
        #expect(a.writerLockKey != a.migrationLockKey)
        #expect(a.writerLockKey != c.writerLockKey && a.migrationLockKey != c.migrationLockKey)
        let database = try #require(try a.read { try $0.queryFirst("SELECT current_database()") { try $0.column(0) as String } })
        #expect(a.writerLockKey == (try PostgresDatabase.lockKey("lora-squeeze catalog writer", database, scratch.schema)))
        #expect(a.migrationLockKey == (try PostgresDatabase.lockKey("lora-squeeze catalog migration", database, scratch.schema)))
    }
}

// MARK: - Migrations

@Suite("PostgresDatabase: migrations", .enabled(if: CatalogFixture.onPostgres))
struct PostgresMigrationTests {
    @Test("schemaVersion of an untouched schema is 0, and of one migrated to 0 too")
    func untouched() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        #expect(try database.schemaVersion() == 0)
        #expect(try database.migrate([], target: 0) == (0, 0))
        #expect(try database.schemaVersion() == 0)
        #expect(try database.read { try $0.queryFirst("SELECT to_regclass('catalog_schema') IS NOT NULL") { try $0.column(0) as Bool } } == true)
    }

    /// Both replicas start together; the one that takes the migration lock first is held inside its
    /// first step (on an advisory lock the test holds) until the other is seen waiting for the
    /// migration lock, so the two really overlap.
    @Test("two replicas migrating at once apply each step once and both end at the target")
    func concurrent() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let gateKey = Int64.random(in: 1...(1 << 62))
        let steps = [
            PostgresMigration(from: 0, to: 1, sql: """
                CREATE TABLE migration_log (step BIGINT NOT NULL); INSERT INTO migration_log VALUES (1);
                SELECT pg_advisory_xact_lock(\(gateKey))
                """),
            PostgresMigration(from: 1, to: 2, sql: "INSERT INTO migration_log VALUES (2)"),
        ]
        let a = try scratch.open(name: "a"), b = try scratch.open(name: "b")
        let gate = try scratch.open(poolSize: 1, name: "gate"), monitor = try scratch.open(poolSize: 1, name: "monitor")
        defer { a.close(); b.close(); gate.close(); monitor.close() }
        let held = DispatchSemaphore(value: 0), open = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0)
        defer { open.signal() }
        let gatekeeper = Spawned {
            try gate.withPooledConnection { connection in
                try connection.run("SELECT pg_advisory_lock(CAST(? AS BIGINT))", [gateKey])
                held.signal()
                open.wait()
                try connection.run("SELECT pg_advisory_unlock(CAST(? AS BIGINT))", [gateKey])
            }
        }
        #expect(held.wait(for: .seconds(5)))
        let migrations = [a, b].map { database in
            Spawned { () throws -> [Int] in
                go.wait()
                let outcome = try database.migrate(steps, target: 2)
                return [outcome.from, outcome.to]
            }
        }
        go.signal()
        go.signal()
        // One waits for the gate inside step 1, the other for the migration lock.
        #expect(try scratch.waitForAdvisoryWaiters(2, monitor))
        open.signal()
        try gatekeeper.value()
        let outcomes = try migrations.map { try $0.value() }
        #expect(outcomes.sorted { $0[0] < $1[0] } == [[0, 2], [2, 2]])
        #expect(try a.read { try $0.query("SELECT step FROM migration_log ORDER BY step") { try $0.column(0) as Int } } == [1, 2])
        #expect(try a.schemaVersion() == 2 && b.schemaVersion() == 2)
    }

    @Test("a schema newer than the target is refused with .schemaTooNew and left alone")
    func schemaTooNew() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        let steps = [PostgresMigration(from: 0, to: 1, sql: "CREATE TABLE log (x BIGINT)"),
                     PostgresMigration(from: 1, to: 2, sql: "INSERT INTO log VALUES (2)")]
        #expect(try database.migrate(steps, target: 2) == (0, 2))
        let older = try scratch.open()
        defer { older.close() }
        #expect(throws: PostgresError.schemaTooNew(location: older.location, found: 2, known: 1)) {
            try older.migrate(Array(steps.prefix(1)), target: 1)
        }
        #expect(try older.schemaVersion() == 2)
        // At the target: nothing runs again.
        #expect(try older.migrate(steps, target: 2) == (2, 2))
        #expect(try older.read { try rowCount($0, "log") } == 1)
    }

    @Test("a failing step rolls back alone: the previous version stays, and the lock is released")
    func failingStep() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        let good = PostgresMigration(from: 0, to: 1, sql: "CREATE TABLE a (x BIGINT)")
        let bad = PostgresMigration(from: 1, to: 2, sql: "CREATE TABLE b (x BIGINT); SELECT 1 / 0")
        let error = try #require(throws: PostgresError.self) { try database.migrate([good, bad], target: 2) }
        #expect(error.sqlState == "22012")
        #expect(try database.schemaVersion() == 1)
        let tables = { try database.read { try $0.queryFirst("SELECT to_regclass('a') IS NOT NULL, to_regclass('b') IS NOT NULL") { [try $0.column(0) as Bool, try $0.column(1) as Bool] } } }
        #expect(try tables() == [true, false])
        // Another replica, unwilling to wait, gets the migration lock at once.
        let next = try scratch.open(lockTimeout: .milliseconds(200))
        defer { next.close() }
        #expect(try next.migrate([good, PostgresMigration(from: 1, to: 2, sql: "CREATE TABLE b (x BIGINT)")], target: 2) == (1, 2))
        #expect(try tables() == [true, true])
    }

    @Test("a step may span versions; a missing, stalled or overshooting step is refused")
    func stepShapes() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open()
        defer { database.close() }
        let refused = { (steps: [PostgresMigration], target: Int) -> Bool in
            do { try database.migrate(steps, target: target) } catch PostgresError.invalidConfiguration { return true } catch {}
            return false
        }
        #expect(refused([PostgresMigration(from: 0, to: 0, sql: "SELECT 1")], 1))
        #expect(refused([PostgresMigration(from: 0, to: 5, sql: "SELECT 1")], 3))
        #expect(refused([], 1))
        #expect(try database.schemaVersion() == 0)
        // 0→3 in one baseline step, then 3→4; a gap after that stops at the last version reached.
        let steps = [PostgresMigration(from: 0, to: 3, sql: "CREATE TABLE t (x BIGINT)"),
                     PostgresMigration(from: 3, to: 4, sql: "ALTER TABLE t ADD COLUMN y BIGINT")]
        #expect(refused(steps, 6))
        #expect(try database.schemaVersion() == 4)
        #expect(try database.migrate(steps, target: 4) == (4, 4))
    }
}

// MARK: - The pool

@Suite("PostgresDatabase: the connection pool", .enabled(if: CatalogFixture.onPostgres))
struct PostgresPoolTests {
    @Test("with every connection busy, a caller gets .poolExhausted after checkoutTimeout",
          arguments: [Duration.zero, .milliseconds(200)])
    func exhausted(_ timeout: Duration) throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(poolSize: 1, checkoutTimeout: timeout)
        defer { database.close() }
        let inside = DispatchSemaphore(value: 0), leave = DispatchSemaphore(value: 0)
        defer { leave.signal() }
        let holder = Spawned { try database.read { _ in inside.signal(); leave.wait() } }
        #expect(inside.wait(for: .seconds(5)))
        let start = ContinuousClock.now
        let error = try #require(throws: PostgresError.self) { try database.read { _ in } }
        let waited = ContinuousClock.now - start
        #expect(error == .poolExhausted(location: database.location, size: 1, waitedSeconds: PostgresDatabase.seconds(timeout)))
        #expect(error.isUnavailable)
        #expect(waited >= timeout - .milliseconds(10) && waited < timeout + .seconds(1), "waited \(waited)")
        leave.signal()
        try holder.value()
        #expect(try database.read { _ in 1 } == 1)
        #expect(database.openConnections == 1)
    }

    @Test("8 threads × 200 calls share at most poolSize connections")
    func reuse() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(poolSize: 3, checkoutTimeout: .seconds(10), name: "pool")
        defer { database.close() }
        let monitor = try scratch.open(poolSize: 1, name: "monitor")
        defer { monitor.close() }
        let pids = Locked<Set<Int>>([]), peak = Locked(0)
        let go = DispatchSemaphore(value: 0)
        let workers = (0..<8).map { _ in
            Spawned { () throws -> Int in
                go.wait()
                for _ in 0..<200 {
                    let pid = try backendPID(database)
                    let open = database.openConnections
                    pids.withLock { _ = $0.insert(pid) }
                    peak.withLock { $0 = max($0, open) }
                }
                return 200
            }
        }
        for _ in workers { go.signal() }
        #expect(try workers.map { try $0.value(within: .seconds(60)) } == Array(repeating: 200, count: 8))
        #expect((1...3).contains(pids.withLock { $0.count }))
        #expect((1...3).contains(peak.withLock { $0 }))
        #expect(database.openConnections <= 3)
        let sessions = try monitor.read {
            try $0.queryFirst("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", [scratch.tag + "-pool"]) { try $0.column(0) as Int }
        }
        #expect(sessions == database.openConnections)
    }

    enum Call: String, CaseIterable, Sendable {
        case read, withConnection, transaction, schemaVersion
        func run(_ database: PostgresDatabase) throws {
            switch self {
            case .read: try database.read { _ in }
            case .withConnection: try database.withConnection { _ in }
            case .transaction: try database.transaction { _ in }
            case .schemaVersion: _ = try database.schemaVersion()
            }
        }
    }

    @Test("a connection killed on the server fails its next call as unavailable; the call after reconnects",
          arguments: Call.allCases)
    func killedConnection(_ call: Call) throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(poolSize: 1, name: "victim")
        defer { database.close() }
        let monitor = try scratch.open(poolSize: 1, name: "monitor")
        defer { monitor.close() }
        let pid = try backendPID(database)
        let killed = try monitor.withConnection {
            try $0.queryFirst("SELECT pg_terminate_backend(CAST(? AS INTEGER))", [pid]) { try $0.column(0) as Bool }
        }
        #expect(killed == true)
        #expect(try waitUntil {
            try monitor.read { try $0.queryFirst("SELECT count(*) FROM pg_stat_activity WHERE pid = CAST(? AS INTEGER)", [pid]) { try $0.column(0) as Int } } == 0
        })
        let error = try #require(throws: PostgresError.self) { try call.run(database) }
        #expect(error.isUnavailable, "\(error)")
        #expect(database.openConnections == 0)
        try call.run(database)
        let replacement = try backendPID(database)
        #expect(replacement != pid && replacement > 0)
        #expect(database.openConnections == 1)
    }

    /// A role of the test's own that can be refused logins (`ALTER ROLE … NOLOGIN`) while the server
    /// stays up: what a failed connect looks like to the pool. `drop` removes it.
    struct Role {
        let name: String
        let admin: PostgresDatabase

        init(_ scratch: PostgresScratch) throws {
            guard let admin = PostgresTestSchemas.admin else { throw PostgresError.invalidConfiguration("no test cluster") }
            self.admin = admin
            name = scratch.tag + "_role"
            try admin.withConnection { try $0.execute("CREATE ROLE \(name) LOGIN; GRANT USAGE ON SCHEMA \(scratch.schema) TO \(name)") }
        }

        func allowLogin(_ allowed: Bool) throws {
            try admin.withConnection { try $0.execute("ALTER ROLE \(name) \(allowed ? "LOGIN" : "NOLOGIN")") }
        }

        func drop() {
            _ = try? admin.withConnection { try $0.execute("DROP OWNED BY \(name); DROP ROLE \(name)") }
        }
    }

    /// After a failed connect the pool does not try again before the backoff (100 ms, then doubling up
    /// to maxBackoff): calls needing a new connection fail at once with `.unavailable`, while an idle
    /// connection still serves.
    @Test("a failed connect backs off: .connect, then .unavailable until the backoff passes, doubling to maxBackoff")
    func backoff() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let role = try Role(scratch)
        defer { role.drop() }
        let database = try scratch.open(poolSize: 2, maxBackoff: .milliseconds(150), user: role.name)
        defer { database.close() }
        try role.allowLogin(false)
        let clock = ContinuousClock()

        /// With the one open connection held elsewhere, a call must connect: it fails, and the next fails
        /// without trying. Returns the second's retry delay and an upper bound of the time since the failure.
        func failTwice() throws -> (retry: Double, elapsed: Double) {
            let inside = DispatchSemaphore(value: 0), leave = DispatchSemaphore(value: 0)
            defer { leave.signal() }
            let holder = Spawned { try database.read { _ in inside.signal(); leave.wait() } }
            guard inside.wait(for: .seconds(5)) else { throw Spawned<Void>.StillRunning() }
            let start = clock.now
            let refused = try #require(throws: PostgresError.self) { try database.read { _ in } }
            guard case .connect(let location, let message) = refused else {
                Issue.record("expected .connect, got \(refused)")
                return (0, 0)
            }
            #expect(location == database.location && message.contains("not permitted to log in"), "\(message)")
            let waiting = try #require(throws: PostgresError.self) { try database.read { _ in } }
            let elapsed = PostgresDatabase.seconds(clock.now - start)
            guard case .unavailable(let location2, let message2, let retry) = waiting else {
                Issue.record("expected .unavailable, got \(waiting)")
                return (0, 0)
            }
            #expect(location2 == database.location && message2.contains("not permitted to log in"))
            #expect(waiting.isUnavailable && refused.isUnavailable)
            leave.signal()
            try holder.value()
            // The idle connection serves even during the backoff.
            try database.read { _ in }
            return (retry, elapsed)
        }

        let first = try failTwice()
        #expect(first.retry > 0 && first.retry <= 0.1 && first.retry + first.elapsed >= 0.099, "\(first)")
        usleep(120_000)   // past the 100 ms backoff
        let second = try failTwice()
        #expect(second.retry > 0 && second.retry <= 0.15 && second.retry + second.elapsed >= 0.149, "\(second)")
        #expect(database.openConnections == 1)
        try role.allowLogin(true)
        usleep(170_000)   // past the 150 ms backoff
        let inside = DispatchSemaphore(value: 0), leave = DispatchSemaphore(value: 0)
        defer { leave.signal() }
        let holder = Spawned { try database.read { _ in inside.signal(); leave.wait() } }
        #expect(inside.wait(for: .seconds(5)))
        try database.read { _ in }
        #expect(database.openConnections == 2)
        leave.signal()
        try holder.value()
    }

    @Test("maxBackoff is the longest wait between connection attempts, even under 100 ms")
    func maxBackoffBelowFirstStep() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let role = try Role(scratch)
        defer { role.drop() }
        let database = try scratch.open(poolSize: 2, maxBackoff: .zero, user: role.name)
        defer { database.close() }
        try role.allowLogin(false)
        let inside = DispatchSemaphore(value: 0), leave = DispatchSemaphore(value: 0)
        defer { leave.signal() }
        let holder = Spawned { try database.read { _ in inside.signal(); leave.wait() } }
        #expect(inside.wait(for: .seconds(5)))
        for _ in 0..<2 {
            let error = try #require(throws: PostgresError.self) { try database.read { _ in } }
            guard case .connect = error else {
                Issue.record("expected a new attempt (.connect), got \(error)")
                break
            }
        }
        leave.signal()
        try holder.value()
    }

    @Test("close: later calls throw .closed, close is idempotent, the sessions end")
    func close() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(poolSize: 2, name: "closing")
        let monitor = try scratch.open(poolSize: 1, name: "monitor")
        defer { monitor.close() }
        try database.read { _ in }
        database.close()
        #expect(database.openConnections == 0)
        for round in 0..<2 {
            let closed = PostgresError.closed(location: database.location)
            #expect(throws: closed) { try database.read { _ in } }
            #expect(throws: closed) { try database.withConnection { _ in } }
            #expect(throws: closed) { try database.transaction { _ in } }
            #expect(throws: closed) { try database.schemaVersion() }
            #expect(throws: closed) { try database.migrate([], target: 0) }
            #expect(database.isClosedError(closed))
            database.close()   // again: nothing to do, nothing breaks
            #expect(database.openConnections == 0, "round \(round)")
        }
        #expect(!database.isClosedError(PostgresError.poolExhausted(location: database.location, size: 1, waitedSeconds: 0)))
        #expect(!database.isClosedError(Abort()))
        #expect(try waitUntil {
            try monitor.read { try $0.queryFirst("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", [scratch.tag + "-closing"]) { try $0.column(0) as Int } } == 0
        })
    }

    @Test("close while a call runs and another waits: the waiter gets .closed, the running call finishes")
    func closeWhileBusy() throws {
        let scratch = try PostgresScratch()
        defer { scratch.drop() }
        let database = try scratch.open(poolSize: 1, checkoutTimeout: .seconds(5))
        let inside = DispatchSemaphore(value: 0), leave = DispatchSemaphore(value: 0)
        defer { leave.signal() }
        let running = Spawned {
            try database.read { connection in
                inside.signal()
                leave.wait()
                return try connection.queryFirst("SELECT 1") { try $0.column(0) as Int }
            }
        }
        #expect(inside.wait(for: .seconds(5)))
        let waiting = Spawned { try database.read { _ in 0 } }
        usleep(50_000)   // lets the waiter reach the pool's wait; it must end with .closed either way
        database.close()
        let start = ContinuousClock.now
        guard case .failure(let error)? = waiting.result(within: .seconds(4)) else {
            Issue.record("the waiter did not fail after close")
            return
        }
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(database.isClosedError(error))
        leave.signal()
        #expect(try running.value() == 1)
        #expect(database.openConnections == 0)
    }

    @Test("a search_path naming no existing schema is refused at init")
    func missingSchema() throws {
        let scratch = try PostgresScratch()
        scratch.drop()
        let error = try #require(throws: PostgresError.self) { try scratch.open() }
        guard case .invalidConfiguration(let message) = error else {
            Issue.record("expected .invalidConfiguration, got \(error)")
            return
        }
        #expect(message.contains("search_path"))
    }

    @Test("a database that does not exist is refused at init with .connect")
    func missingDatabase() throws {
        let base = try #require(CatalogFixture.postgresURL)
        var components = try #require(URLComponents(string: base))
        components.path = "/lora_no_such_database"
        let url = try #require(components.string)
        let error = try #require(throws: PostgresError.self) {
            try PostgresDatabase(configuration: .init(url: url), logger: makeLogger())
        }
        guard case .connect(_, let message) = error else {
            Issue.record("expected .connect, got \(error)")
            return
        }
        #expect(message.contains("lora_no_such_database"))
    }
}

// MARK: - Without a server

@Suite("PostgresDatabase without a server: lock keys, errors, an unreachable host")
struct PostgresOfflineTests {
    /// Known answers: the first 8 bytes of SHA-256("purpose|database|schema") (sha256sum), big-endian.
    @Test("lock keys are SHA-256 of purpose, database and schema, read big-endian",
          arguments: [("lora-squeeze catalog writer", "lora_test", "public", UInt64(0x4862_aa49_9213_e004)),
                      ("lora-squeeze catalog migration", "lora_test", "public", 0x12c3_f279_2b69_9913),
                      ("lora-squeeze catalog writer", "lora", "t_x", 0xc520_0785_9cb3_5b80),
                      ("lora-squeeze catalog migration", "lora", "t_x", 0xfd20_8a6a_3357_48d2)])
    func lockKeyKnownAnswers(_ purpose: String, _ database: String, _ schema: String, _ key: UInt64) throws {
        #expect(try PostgresDatabase.lockKey(purpose, database, schema) == Int64(bitPattern: key))
    }

    @Test("lock keys differ per schema, per purpose and per database")
    func lockKeysDiffer() throws {
        let purposes = ["lora-squeeze catalog writer", "lora-squeeze catalog migration"]
        let places = [("lora", "public"), ("lora", "replica_b"), ("other", "public"), ("lora", "Public")]
        var keys: Set<Int64> = []
        for purpose in purposes {
            for (database, schema) in places { keys.insert(try PostgresDatabase.lockKey(purpose, database, schema)) }
        }
        #expect(keys.count == purposes.count * places.count)
    }

    @Test("isUnavailable: no server, connection classes 08/57P/53, lost connections; not the caller's mistakes")
    func classification() {
        let unavailable: [PostgresError] = [
            .connect(location: "l", message: "m"), .unavailable(location: "l", message: "m", retryInSeconds: 0.1),
            .poolExhausted(location: "l", size: 1, waitedSeconds: 1), .query(sql: "s", sqlState: nil, message: "lost"),
            .query(sql: "s", sqlState: "08006", message: "m"), .query(sql: "s", sqlState: "57P01", message: "m"),
            .query(sql: "s", sqlState: "53100", message: "m"), .query(sql: "s", sqlState: "53300", message: "m"),
        ]
        let available: [PostgresError] = [
            .query(sql: "s", sqlState: "23505", message: "m"), .query(sql: "s", sqlState: "55P03", message: "m"),
            .query(sql: "s", sqlState: "25P02", message: "m"), .query(sql: "s", sqlState: "57014", message: "m"),
            .bindingCount(sql: "s", expected: 1, given: 2), .nulInText(sql: "s", parameter: 1),
            .columnType(sql: "s", column: 0, name: "n", expected: "INTEGER", found: "TEXT"),
            .schemaTooNew(location: "l", found: 2, known: 1), .invalidConfiguration("x"), .closed(location: "l"),
        ]
        for error in unavailable { #expect(error.isUnavailable, "\(error)") }
        for error in available { #expect(!error.isUnavailable, "\(error)") }
        #expect(PostgresError.query(sql: "s", sqlState: "53100", message: "m").isDiskFull)
        #expect(!PostgresError.query(sql: "s", sqlState: "53200", message: "m").isDiskFull)
        #expect(PostgresError.query(sql: "s", sqlState: "23503", message: "m").isConstraintViolation)
        #expect(!PostgresError.query(sql: "s", sqlState: nil, message: "m").isConstraintViolation)
        #expect(PostgresError.query(sql: "SELECT 1", sqlState: nil, message: "lost").description.hasSuffix("(connection lost)"))
        #expect(PostgresError.query(sql: "SELECT 1", sqlState: "23505", message: "dup").description.hasSuffix("(SQLSTATE 23505)"))
    }

    @Test("an unreachable server: init throws .connect at once, naming the place without the password")
    func unreachable() throws {
        let port = try closedLoopbackPort()
        let url = "postgresql://lora:hunter2@127.0.0.1:\(port)/catalog?password=hunter3"
        let start = ContinuousClock.now
        let error = try #require(throws: PostgresError.self) {
            try PostgresDatabase(configuration: .init(url: url, connectTimeoutSeconds: 2), logger: makeLogger())
        }
        #expect(ContinuousClock.now - start < .seconds(2))
        guard case .connect(let location, let message) = error else {
            Issue.record("expected .connect, got \(error)")
            return
        }
        #expect(location == "postgresql://lora:***@127.0.0.1:\(port)/catalog?password=***")
        #expect(!message.isEmpty)
        #expect(!"\(error)".contains("hunter"))
        #expect(error.isUnavailable)
    }
}
