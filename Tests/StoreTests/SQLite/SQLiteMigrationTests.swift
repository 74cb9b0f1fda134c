import Foundation
import Testing
import Store

@Suite("SQLiteDatabase: migrations by user_version")
struct SQLiteMigrationTests {
    static let v1 = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    static let v2 = "ALTER TABLE items ADD COLUMN size INTEGER NOT NULL DEFAULT 0; CREATE INDEX items_by_size ON items (size);"
    static let v3 = "CREATE TABLE tags (item INTEGER REFERENCES items(id), tag TEXT);"

    @Test("a new file is version 0 and gets every migration")
    func fresh() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            #expect(try database.userVersion() == 0)
            let outcome = try database.migrate([Self.v1, Self.v2, Self.v3])
            #expect(outcome.from == 0 && outcome.to == 3)
            #expect(try database.userVersion() == 3)
            #expect(try database.migrate([Self.v1, Self.v2, Self.v3]) == (3, 3))
        }
    }

    @Test("an old-version database is migrated and keeps its rows")
    func upgrade() async throws {
        try await withTemporaryDirectory { directory in
            do {
                let old = try makeDatabase(directory)
                try old.migrate([Self.v1])
                try old.run("INSERT INTO items (name) VALUES (?)", ["kept"])
                old.close()
            }
            let database = try makeDatabase(directory)
            #expect(try database.userVersion() == 1)
            #expect(try database.migrate([Self.v1, Self.v2, Self.v3]) == (1, 3))
            #expect(try database.query("SELECT name, size FROM items") { "\(try $0.column(0) as String)/\(try $0.column(1) as Int)" } == ["kept/0"])
        }
    }

    @Test("a failing migration rolls back alone; the versions before it stay applied")
    func failure() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            let broken = "CREATE TABLE half (x); CREATE TABLE items (dup);"
            #expect(throws: SQLiteError.self) { try database.migrate([Self.v1, broken]) }
            #expect(try database.userVersion() == 1)
            #expect(try database.query("SELECT count(*) FROM sqlite_schema WHERE name = 'half'") { try $0.column(0) as Int } == [0])
        }
    }

    @Test("a database newer than the program is refused")
    func tooNew() async throws {
        try await withTemporaryDirectory { directory in
            let database = try makeDatabase(directory)
            try database.migrate([Self.v1, Self.v2])
            #expect(throws: SQLiteError.schemaTooNew(path: database.path, found: 2, known: 1)) {
                try database.migrate([Self.v1])
            }
        }
    }
}
