import CSQLite3
import Foundation

/// The current row of a statement (see `DatabaseRow`); a mismatched `column` throws
/// `SQLiteError.columnType`.
public struct SQLiteRow: DatabaseRow {
    let statement: SQLiteStatement

    /// Number of columns in the result.
    public var columnCount: Int { Int(sqlite3_column_count(statement.handle)) }

    /// The name of column `index` as the SQL spells it (or its `AS` alias).
    public func columnName(_ index: Int) -> String {
        guard let name = sqlite3_column_name(statement.handle, Int32(index)) else { return "?" }
        return String(cString: name)
    }

    /// Column `index` as whatever storage class it holds.
    public func value(_ index: Int) -> DatabaseValue {
        let column = Int32(index)
        switch storageClass(index) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement.handle, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement.handle, column))
        case SQLITE_TEXT: return .text(text(column))
        case SQLITE_BLOB: return .blob(blob(column))
        default: return .null
        }
    }

    func storageClass(_ index: Int) -> Int32 { sqlite3_column_type(statement.handle, Int32(index)) }

    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(statement.handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement.handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    func blob(_ column: Int32) -> Data {
        guard let bytes = sqlite3_column_blob(statement.handle, column) else { return Data() }
        return Data(bytes: bytes, count: Int(sqlite3_column_bytes(statement.handle, column)))
    }

    public func typeMismatch(_ index: Int, expected: String) -> any Error {
        let found = switch storageClass(index) {
        case SQLITE_INTEGER: "INTEGER"
        case SQLITE_FLOAT: "REAL"
        case SQLITE_TEXT: "TEXT"
        case SQLITE_BLOB: "BLOB"
        default: "NULL"
        }
        return SQLiteError.columnType(sql: statement.sql, column: index, name: columnName(index), expected: expected, found: found)
    }
}
