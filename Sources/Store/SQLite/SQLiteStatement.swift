import CSQLite3
import Foundation

/// One compiled SQL statement on a connection.
///
/// Not `Sendable`: a statement belongs to the connection that prepared it, and is used only inside
/// the `SQLiteDatabase.withConnection`/`transaction` closure that handed out that connection.
public final class SQLiteStatement {
    let handle: OpaquePointer
    private let database: OpaquePointer
    /// The SQL text, for error messages.
    public let sql: String
    /// Set while `run`/`query` iterate, so a nested use of the same SQL prepares a fresh statement.
    var inUse = false

    init(database: OpaquePointer, sql: String) throws(SQLiteError) {
        var statement: OpaquePointer?
        // The tail points into the temporary C string, so it is read inside withCString: after it
        // returns the pointer dangles (ThreadSanitizer's allocator made that visible).
        let (code, trailingSQL) = sql.withCString { text -> (Int32, Bool) in
            var tail: UnsafePointer<CChar>?
            let code = sqlite3_prepare_v2(database, text, -1, &statement, &tail)
            let trailing = tail.map { String(cString: $0).contains(where: { !$0.isWhitespace }) } ?? false
            return (code, trailing)
        }
        guard code == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw .prepare(sql: sql, code: sqlite3_extended_errcode(database), message: sqliteMessage(database))
        }
        if trailingSQL {
            sqlite3_finalize(statement)
            throw .prepare(sql: sql, code: SQLITE_MISUSE,
                           message: "more than one statement; use SQLiteConnection.execute for scripts")
        }
        self.handle = statement
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Number of `?` parameters in the statement.
    public var parameterCount: Int { Int(sqlite3_bind_parameter_count(handle)) }

    /// Resets the statement and binds `values` to its parameters in order; the count must match.
    public func bind(_ values: [any DatabaseBindable]) throws(SQLiteError) {
        reset()
        guard values.count == parameterCount else {
            throw .bindingCount(sql: sql, expected: parameterCount, given: values.count)
        }
        for (offset, value) in values.enumerated() {
            try bind(value.databaseValue, at: offset + 1)
        }
    }

    /// Binds one value to the 1-based parameter `index`.
    public func bind(_ value: DatabaseValue, at index: Int) throws(SQLiteError) {
        guard let position = Int32(exactly: index) else {
            throw .bind(sql: sql, index: index, code: SQLITE_RANGE, message: "parameter index out of range")
        }
        let code: Int32
        switch value {
        case .integer(let number):
            code = sqlite3_bind_int64(handle, position, number)
        case .real(let number):
            code = sqlite3_bind_double(handle, position, number)
        case .text(let text):
            // An explicit byte count keeps the whole string, so text is never cut at an embedded NUL.
            var utf8 = Array(text.utf8)
            if utf8.isEmpty { utf8 = [0] }
            code = utf8.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    sqlite3_bind_text64(handle, position, $0.baseAddress, UInt64(text.utf8.count),
                                        csqlite3_transient(), UInt8(SQLITE_UTF8))
                }
            }
        case .blob(let data):
            // A zero-length pointer would bind NULL; an empty blob is still a blob.
            code = data.isEmpty
                ? sqlite3_bind_zeroblob(handle, position, 0)
                : data.withUnsafeBytes { sqlite3_bind_blob64(handle, position, $0.baseAddress, UInt64($0.count), csqlite3_transient()) }
        case .null:
            code = sqlite3_bind_null(handle, position)
        }
        guard code == SQLITE_OK else {
            throw .bind(sql: sql, index: index, code: code, message: sqliteMessage(database))
        }
    }

    /// Advances to the next row: true when a row is available through `row`, false when done.
    public func step() throws(SQLiteError) -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw .step(sql: sql, code: sqlite3_extended_errcode(database), message: sqliteMessage(database))
        }
    }

    /// The current row; valid until the next `step` or `reset`.
    public var row: SQLiteRow { SQLiteRow(statement: self) }

    /// Rewinds the statement and clears its bindings.
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Binds, runs to completion, resets; returns the number of rows changed.
    @discardableResult
    public func run(_ values: [any DatabaseBindable] = []) throws(SQLiteError) -> Int {
        inUse = true
        defer { reset(); inUse = false }
        try bind(values)
        while try step() {}
        return Int(sqlite3_changes64(database))
    }

    /// Binds, maps each row with `transform`, resets.
    public func query<T>(_ values: [any DatabaseBindable] = [], _ transform: (any DatabaseRow) throws -> T) throws -> [T] {
        inUse = true
        defer { reset(); inUse = false }
        try bind(values)
        var rows: [T] = []
        while try step() { rows.append(try transform(row)) }
        return rows
    }
}
