import Foundation

/// The current row of a query, read by column index (0-based) with checked types, whichever
/// database produced it.
///
/// `try row.column(0) as String` fails with the backend's column-type error when the column holds
/// NULL or another type; ask for `String?` where NULL is allowed.
public protocol DatabaseRow {
    /// Number of columns in the result.
    var columnCount: Int { get }
    /// The name of column `index` as the SQL spells it (or its `AS` alias).
    func columnName(_ index: Int) -> String
    /// Column `index` as whatever type it holds.
    func value(_ index: Int) -> DatabaseValue
    /// The error for column `index` holding something other than `expected`.
    func typeMismatch(_ index: Int, expected: String) -> any Error
}

extension DatabaseRow {
    /// True when column `index` holds NULL.
    public func isNull(_ index: Int) -> Bool { value(index) == .null }

    /// Column `index` decoded as `T`.
    public func column<T: DatabaseColumnDecodable>(_ index: Int, as type: T.Type = T.self) throws -> T {
        guard let decoded = T(databaseValue: value(index)) else { throw typeMismatch(index, expected: T.expectedType) }
        return decoded
    }
}

/// A Swift type a column decodes to. Optional decodes NULL as nil.
public protocol DatabaseColumnDecodable {
    /// The column type named in a mismatch error.
    static var expectedType: String { get }
    /// The value as `Self`, or nil when it is of another type.
    init?(databaseValue: DatabaseValue)
}

extension Int64: DatabaseColumnDecodable {
    public static var expectedType: String { "INTEGER" }
    public init?(databaseValue: DatabaseValue) {
        guard case .integer(let value) = databaseValue else { return nil }
        self = value
    }
}

extension Int: DatabaseColumnDecodable {
    public static var expectedType: String { "INTEGER" }
    public init?(databaseValue: DatabaseValue) {
        guard case .integer(let value) = databaseValue, let exact = Int(exactly: value) else { return nil }
        self = exact
    }
}

extension Bool: DatabaseColumnDecodable {
    public static var expectedType: String { "INTEGER" }
    public init?(databaseValue: DatabaseValue) {
        guard case .integer(let value) = databaseValue else { return nil }
        self = value != 0
    }
}

extension Double: DatabaseColumnDecodable {
    public static var expectedType: String { "REAL" }
    /// REAL, or INTEGER widened: a SQLite column without REAL affinity keeps `1.0` as the INTEGER 1.
    public init?(databaseValue: DatabaseValue) {
        switch databaseValue {
        case .real(let value): self = value
        case .integer(let value): self = Double(value)
        default: return nil
        }
    }
}

extension String: DatabaseColumnDecodable {
    public static var expectedType: String { "TEXT" }
    public init?(databaseValue: DatabaseValue) {
        guard case .text(let value) = databaseValue else { return nil }
        self = value
    }
}

extension Data: DatabaseColumnDecodable {
    public static var expectedType: String { "BLOB" }
    public init?(databaseValue: DatabaseValue) {
        guard case .blob(let value) = databaseValue else { return nil }
        self = value
    }
}

extension Optional: DatabaseColumnDecodable where Wrapped: DatabaseColumnDecodable {
    public static var expectedType: String { Wrapped.expectedType + " or NULL" }
    public init?(databaseValue: DatabaseValue) {
        if databaseValue == .null { self = .none; return }
        guard let wrapped = Wrapped(databaseValue: databaseValue) else { return nil }
        self = .some(wrapped)
    }
}
