import CSQLite3
import Foundation

/// The current row of a statement, read by column index (0-based) with checked types.
///
/// `try row.column(0) as String` fails with `SQLiteError.columnType` when the column holds NULL or
/// another storage class; ask for `String?` where NULL is allowed.
public struct SQLiteRow {
    let statement: SQLiteStatement

    /// Number of columns in the result.
    public var columnCount: Int { Int(sqlite3_column_count(statement.handle)) }

    /// The name of column `index` as the SQL spells it (or its `AS` alias).
    public func columnName(_ index: Int) -> String {
        guard let name = sqlite3_column_name(statement.handle, Int32(index)) else { return "?" }
        return String(cString: name)
    }

    /// True when column `index` holds NULL.
    public func isNull(_ index: Int) -> Bool { storageClass(index) == SQLITE_NULL }

    /// Column `index` as whatever storage class it holds.
    public func value(_ index: Int) -> SQLiteValue {
        let column = Int32(index)
        switch storageClass(index) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement.handle, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement.handle, column))
        case SQLITE_TEXT: return .text(text(column))
        case SQLITE_BLOB: return .blob(blob(column))
        default: return .null
        }
    }

    /// Column `index` decoded as `T`.
    public func column<T: SQLiteColumnDecodable>(_ index: Int, as type: T.Type = T.self) throws(SQLiteError) -> T {
        try T(row: self, column: index)
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

    func typeMismatch(_ index: Int, expected: String) -> SQLiteError {
        let found = switch storageClass(index) {
        case SQLITE_INTEGER: "INTEGER"
        case SQLITE_FLOAT: "REAL"
        case SQLITE_TEXT: "TEXT"
        case SQLITE_BLOB: "BLOB"
        default: "NULL"
        }
        return .columnType(sql: statement.sql, column: index, name: columnName(index), expected: expected, found: found)
    }
}

/// A Swift type a column decodes to. Optional decodes NULL as nil.
public protocol SQLiteColumnDecodable {
    init(row: SQLiteRow, column: Int) throws(SQLiteError)
}

extension Int64: SQLiteColumnDecodable {
    public init(row: SQLiteRow, column: Int) throws(SQLiteError) {
        guard case .integer(let value) = row.value(column) else { throw row.typeMismatch(column, expected: "INTEGER") }
        self = value
    }
}

extension Int: SQLiteColumnDecodable {
    public init(row: SQLiteRow, column: Int) throws(SQLiteError) {
        let value = try Int64(row: row, column: column)
        guard let exact = Int(exactly: value) else { throw row.typeMismatch(column, expected: "INTEGER in Int's range") }
        self = exact
    }
}

extension Bool: SQLiteColumnDecodable {
    public init(row: SQLiteRow, column: Int) throws(SQLiteError) {
        self = try Int64(row: row, column: column) != 0
    }
}

extension Double: SQLiteColumnDecodable {
    /// REAL, or INTEGER widened: a column without REAL affinity keeps `1.0` as the INTEGER 1.
    public init(row: SQLiteRow, column: Int) throws(SQLiteError) {
        switch row.value(column) {
        case .real(let value): self = value
        case .integer(let value): self = Double(value)
        default: throw row.typeMismatch(column, expected: "REAL")
        }
    }
}

extension String: SQLiteColumnDecodable {
    public init(row: SQLiteRow, column: Int) throws(SQLiteError) {
        guard row.storageClass(column) == SQLITE_TEXT else { throw row.typeMismatch(column, expected: "TEXT") }
        self = row.text(Int32(column))
    }
}

extension Data: SQLiteColumnDecodable {
    public init(row: SQLiteRow, column: Int) throws(SQLiteError) {
        guard row.storageClass(column) == SQLITE_BLOB else { throw row.typeMismatch(column, expected: "BLOB") }
        self = row.blob(Int32(column))
    }
}

extension Optional: SQLiteColumnDecodable where Wrapped: SQLiteColumnDecodable {
    public init(row: SQLiteRow, column: Int) throws(SQLiteError) {
        self = row.isNull(column) ? nil : try Wrapped(row: row, column: column)
    }
}
