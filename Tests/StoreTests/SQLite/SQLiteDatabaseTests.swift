import Foundation
import Testing
import Store

/// Opens a database file in `directory`.
func makeDatabase(_ directory: URL, name: String = "test.sqlite",
                  configuration: SQLiteDatabase.Configuration = .init()) throws -> SQLiteDatabase {
    try SQLiteDatabase(path: directory.appendingPathComponent(name).path, configuration: configuration, logger: makeLogger())
}

@Suite("SQLiteDatabase: open, pragmas, binds, reads, errors")
struct SQLiteDatabaseTests {
    @Test("open creates the file and applies WAL, synchronous=FULL, foreign_keys, busy_timeout")
    func pragmas() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory, configuration: .init(busyTimeout: .milliseconds(1234)))
            #expect(FileManager.default.fileExists(atPath: database.path))
            #expect(try database.query("PRAGMA journal_mode") { try $0.column(0) as String } == ["wal"])
            #expect(try database.query("PRAGMA synchronous") { try $0.column(0) as Int } == [2])  // 2 = FULL
            #expect(try database.query("PRAGMA foreign_keys") { try $0.column(0) as Int } == [1])
            #expect(try database.query("PRAGMA busy_timeout") { try $0.column(0) as Int } == [1234])
        }
    }

    @Test("every storage class round-trips, including the awkward values")
    func roundTrip() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            try database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
            let values: [DatabaseValue] = [
                .integer(.min), .integer(.max), .integer(0), .real(-0.5), .real(.infinity), .real(1e-300),
                .text(""), .text("naïve ☃ 𝄞"), .text("a\u{0}b"), .blob(Data()), .blob(Data([0, 1, 2, 255])), .null,
            ]
            for value in values { try database.run("INSERT INTO t (v) VALUES (?)", [value]) }
            let read = try database.query("SELECT v FROM t ORDER BY id") { $0.value(0) }
            #expect(read == values)
        }
    }

    @Test("typed reads: the right type, NULL as nil for optionals, a typed error otherwise")
    func typedReads() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            try database.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
            try database.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [42, 2.5, "text", Data([9]), DatabaseValue.null])
            try database.withConnection { connection in
                let row = try #require(try connection.queryFirst("SELECT i, r, s, b, n FROM t") { row in
                    (try row.column(0) as Int64, try row.column(0) as Int, try row.column(0) as Double,
                     try row.column(1) as Double, try row.column(2) as String, try row.column(3) as Data,
                     try row.column(4) as String?, try row.column(2) as String?)
                })
                #expect(row.0 == 42 && row.1 == 42 && row.2 == 42.0 && row.3 == 2.5)
                #expect(row.4 == "text" && row.5 == Data([9]) && row.6 == nil && row.7 == "text")
                let sql = "SELECT i, r, s, b, n FROM t"
                #expect(throws: SQLiteError.columnType(sql: sql, column: 4, name: "n", expected: "TEXT", found: "NULL")) {
                    _ = try connection.queryFirst(sql) { try $0.column(4) as String }
                }
                #expect(throws: SQLiteError.columnType(sql: sql, column: 2, name: "s", expected: "INTEGER", found: "TEXT")) {
                    _ = try connection.queryFirst(sql) { try $0.column(2) as Int64 }
                }
                #expect(throws: SQLiteError.columnType(sql: sql, column: 1, name: "r", expected: "INTEGER", found: "REAL")) {
                    _ = try connection.queryFirst(sql) { try $0.column(1) as Int }
                }
                #expect(throws: SQLiteError.columnType(sql: sql, column: 2, name: "s", expected: "BLOB", found: "TEXT")) {
                    _ = try connection.queryFirst(sql) { try $0.column(2) as Data }
                }
            }
        }
    }

    @Test("SQLite stores NaN as NULL (documented here so nobody relies on it)")
    func nan() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            #expect(try database.query("SELECT ?", [Double.nan]) { $0.value(0) } == [.null])
        }
    }

    @Test("Swift values bind through DatabaseBindable, nil optionals as NULL")
    func bindables() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            let missing: String? = nil
            let present: Int? = 7
            let row = try database.query("SELECT ?, ?, ?, ?, ?, ?", [Int32(3), true, missing, present, "s", 1.5]) { row in
                (0..<6).map { row.value($0) }
            }
            #expect(row == [[.integer(3), .integer(1), .null, .integer(7), .text("s"), .real(1.5)]])
        }
    }

    @Test("errors carry SQLite's code, its message and the SQL")
    func errors() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            try database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
            let bad = "SELEC 1"
            let prepareError = try #require(throws: SQLiteError.self) { try database.run(bad) }
            guard case .prepare(let sql, let code, let message) = prepareError else {
                Issue.record("expected .prepare, got \(prepareError)")
                return
            }
            #expect(sql == bad && code == 1 && message.contains("syntax error"))
            #expect(prepareError.description.contains(bad))

            try database.run("INSERT INTO t (name) VALUES (?)", ["a"])
            let insert = "INSERT INTO t (name) VALUES (?)"
            let unique = try #require(throws: SQLiteError.self) { try database.run(insert, ["a"]) }
            #expect(unique.isConstraintViolation)
            #expect(unique.code == 2067)  // SQLITE_CONSTRAINT_UNIQUE: extended codes are on
            guard case .step(let failedSQL, _, let uniqueMessage) = unique else {
                Issue.record("expected .step, got \(unique)")
                return
            }
            #expect(failedSQL == insert && uniqueMessage.contains("UNIQUE"))
            let notNull = try #require(throws: SQLiteError.self) { try database.run(insert, [DatabaseValue.null]) }
            #expect(notNull.code == 1299)  // SQLITE_CONSTRAINT_NOTNULL
        }
    }

    @Test("binding the wrong number of values is refused before running", arguments: [0, 1, 3])
    func bindingCount(given: Int) async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            let sql = "SELECT ?, ?"
            let values = [any DatabaseBindable](repeating: 1, count: given)
            #expect(throws: SQLiteError.bindingCount(sql: sql, expected: 2, given: given)) {
                try database.query(sql, values) { _ in () }
            }
        }
    }

    @Test("prepare refuses two statements; execute runs scripts")
    func scripts() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            #expect(throws: SQLiteError.self) { try database.run("CREATE TABLE a (x); CREATE TABLE b (y)") }
            try database.execute("CREATE TABLE a (x); CREATE TABLE b (y);")
            #expect(try database.query("SELECT count(*) FROM sqlite_schema") { try $0.column(0) as Int } == [2])
            #expect(throws: SQLiteError.self) { try database.execute("CREATE TABLE a (x)") }
        }
    }

    @Test("a query may run the same SQL again from inside its row closure")
    func nestedSameStatement() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            try database.execute("CREATE TABLE t (x INTEGER)")
            for x in 1...3 { try database.run("INSERT INTO t VALUES (?)", [x]) }
            let pairs = try database.withConnection { connection in
                try connection.query("SELECT x FROM t WHERE x >= ? ORDER BY x", [1]) { row in
                    let x = try row.column(0) as Int
                    return try connection.query("SELECT x FROM t WHERE x >= ? ORDER BY x", [x]) { try $0.column(0) as Int }.count
                }
            }
            #expect(pairs == [3, 2, 1])
        }
    }

    @Test("a closed database refuses work with a typed error")
    func closed() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            database.close()
            database.close()
            #expect(throws: SQLiteError.closed(path: database.path)) { try database.execute("SELECT 1") }
        }
    }

    @Test("opening a directory fails with .open naming the path")
    func openFailure() async throws {
        try await withTemporaryDirectory { directory in
            let error = try #require(throws: SQLiteError.self) {
                try SQLiteDatabase(path: directory.path, logger: makeLogger())
            }
            guard case .open(let path, _, _) = error else {
                Issue.record("expected .open, got \(error)")
                return
            }
            #expect(path == directory.path)
        }
    }
}
