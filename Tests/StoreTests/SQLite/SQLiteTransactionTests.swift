import Foundation
import Testing
import Store

@Suite("SQLiteDatabase: transactions, busy timeout, concurrency")
struct SQLiteTransactionTests {
    struct Abort: Error {}

    @Test("a transaction commits its writes and returns the closure's value")
    func commit() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            try database.execute("CREATE TABLE t (x INTEGER)")
            let changed = try database.transaction { connection in
                try connection.run("INSERT INTO t VALUES (1)") + connection.run("INSERT INTO t VALUES (2)")
            }
            #expect(changed == 2)
            #expect(try database.query("SELECT x FROM t ORDER BY x") { try $0.column(0) as Int } == [1, 2])
        }
    }

    @Test("a throwing closure rolls everything back and the error reaches the caller")
    func rollback() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            try database.execute("CREATE TABLE t (x INTEGER)")
            #expect(throws: Abort.self) {
                try database.transaction { connection in
                    try connection.run("INSERT INTO t VALUES (1)")
                    throw Abort()
                }
            }
            #expect(try database.query("SELECT count(*) FROM t") { try $0.column(0) as Int } == [0])
            // A failing statement inside rolls back the earlier ones too.
            try database.execute("CREATE TABLE u (x INTEGER UNIQUE)")
            #expect(throws: SQLiteError.self) {
                try database.transaction { connection in
                    try connection.run("INSERT INTO u VALUES (1)")
                    try connection.run("INSERT INTO u VALUES (1)")
                }
            }
            #expect(try database.query("SELECT count(*) FROM u") { try $0.column(0) as Int } == [0])
            // And the connection is usable afterwards (no transaction left open).
            try database.transaction { try $0.run("INSERT INTO u VALUES (2)") }
            #expect(try database.withConnection { ($0 as? SQLiteConnection)?.isAutocommit } == true)
        }
    }

    /// A second connection (as another process would have) waits `busyTimeout` for the write lock
    /// BEGIN IMMEDIATE holds, then fails with SQLITE_BUSY.
    @Test("busy_timeout: a second connection waits, then gets SQLITE_BUSY")
    func busyTimeout() async throws {
        try await withTemporaryDirectory { directory in
            let first = try makeDatabase(directory)
            try first.execute("CREATE TABLE t (x INTEGER)")
            let patient = try makeDatabase(directory, configuration: .init(busyTimeout: .milliseconds(150)))
            let impatient = try makeDatabase(directory, configuration: .init(busyTimeout: .zero))
            try first.transaction { connection in
                try connection.run("INSERT INTO t VALUES (1)")
                let clock = ContinuousClock()
                let start = clock.now
                let error = try #require(throws: SQLiteError.self) { try patient.run("INSERT INTO t VALUES (2)") }
                #expect(error.isBusy)
                #expect(clock.now - start >= .milliseconds(140))
                let immediate = clock.now
                #expect(throws: SQLiteError.self) { try impatient.run("INSERT INTO t VALUES (3)") }
                #expect(clock.now - immediate < .milliseconds(140))
                // Readers are not blocked by the writer in WAL mode.
                #expect(try patient.query("SELECT count(*) FROM t") { try $0.column(0) as Int } == [0])
            }
            try patient.run("INSERT INTO t VALUES (2)")
            #expect(try first.query("SELECT count(*) FROM t") { try $0.column(0) as Int } == [2])
        }
    }

    @Test("busyTimeout is accepted at its bound and refused one millisecond past, and below zero")
    func busyTimeoutBounds() async throws {
        try await withTemporaryDirectory { directory in
            let atBound = try makeDatabase(directory, name: "a.sqlite",
                                           configuration: .init(busyTimeout: SQLiteDatabase.Configuration.maxBusyTimeout))
            #expect(try atBound.query("PRAGMA busy_timeout") { try $0.column(0) as Int } == [Int(Int32.max)])
            for timeout in [SQLiteDatabase.Configuration.maxBusyTimeout + .milliseconds(1), .milliseconds(-1)] {
                let error = try #require(throws: SQLiteError.self) {
                    try makeDatabase(directory, name: "b.sqlite", configuration: .init(busyTimeout: timeout))
                }
                guard case .invalidConfiguration = error else {
                    Issue.record("expected .invalidConfiguration, got \(error)")
                    continue
                }
            }
        }
    }

    @Test("many concurrent tasks share one database safely")
    func concurrentTasks() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            try database.execute("CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0); CREATE TABLE log (task INTEGER)")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<64 {
                    group.addTask {
                        try database.transaction { connection in
                            let n = try #require(try connection.queryFirst("SELECT n FROM counter") { try $0.column(0) as Int })
                            try connection.run("UPDATE counter SET n = ?", [n + 1])
                            try connection.run("INSERT INTO log VALUES (?)", [task])
                        }
                        _ = try database.query("SELECT count(*) FROM log") { try $0.column(0) as Int }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try database.query("SELECT n FROM counter") { try $0.column(0) as Int } == [64])
            #expect(try database.query("SELECT count(DISTINCT task) FROM log") { try $0.column(0) as Int } == [64])
        }
    }
}
