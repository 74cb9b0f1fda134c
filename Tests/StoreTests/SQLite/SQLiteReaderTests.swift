import Dispatch
import Foundation
import Testing
import Store

@Suite("SQLiteDatabase: the read connection")
struct SQLiteReaderTests {
    @Test("a read runs while another thread holds the write transaction, and sees only the last commit")
    func readBesideWrite() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            defer { database.close() }
            try database.execute("CREATE TABLE t (v INTEGER)")
            try database.run("INSERT INTO t VALUES (1)")
            let inside = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            let finished = DispatchSemaphore(value: 0)
            let writer = Thread {
                try? database.transaction { connection in
                    try connection.run("INSERT INTO t VALUES (2)")
                    inside.signal()
                    release.wait()
                }
                finished.signal()
            }
            writer.start()
            inside.wait()
            // The writer holds the write lock and its transaction is open: the read neither waits nor sees it.
            let started = ContinuousClock.now
            let during = try database.read { try $0.query("SELECT v FROM t ORDER BY v") { try $0.column(0) as Int } }
            #expect(during == [1])
            #expect(ContinuousClock.now - started < .seconds(2), "the read did not wait for the writer")
            release.signal()
            finished.wait()
            let after = try database.read { try $0.query("SELECT v FROM t ORDER BY v") { try $0.column(0) as Int } }
            #expect(after == [1, 2], "a read started after the commit sees it")
        }
    }

    @Test("the read connection refuses writes, and a closed database refuses reads")
    func readOnly() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            try database.execute("CREATE TABLE t (v INTEGER)")
            #expect(throws: SQLiteError.self) { try database.read { try $0.run("INSERT INTO t VALUES (1)") } }
            #expect(try database.query("SELECT count(*) FROM t") { try $0.column(0) as Int } == [0])
            database.close()
            #expect(throws: SQLiteError.closed(path: database.path)) { try database.read { _ in 1 } }
        }
    }
}
