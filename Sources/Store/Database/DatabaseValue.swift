import Foundation

/// A value bound to a statement parameter, or read from a column: SQLite's five storage classes,
/// which the PostgreSQL backend maps its column types onto (see `PostgresRow`).
public enum DatabaseValue: Sendable, Equatable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
    case null
}

extension DatabaseValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByNilLiteral {
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .real(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(nilLiteral: ()) { self = .null }
}

/// The type a parameter is sent as, known even when the value is nil (PostgreSQL must know a
/// parameter's type: `?1 IS NULL` alone does not say).
public enum DatabaseType: Sendable {
    case integer, real, text, blob
    /// Taken from the value itself (`DatabaseValue`); unknown for NULL.
    case ofValue
}

/// A Swift value that binds to a statement parameter, so bindings read as `[name, rank, pinned]`.
/// Optionals bind nil as SQL NULL, typed as their wrapped type.
public protocol DatabaseBindable {
    var databaseValue: DatabaseValue { get }
    static var databaseType: DatabaseType { get }
}

extension DatabaseValue: DatabaseBindable {
    public var databaseValue: DatabaseValue { self }
    public static var databaseType: DatabaseType { .ofValue }
}
extension Int64: DatabaseBindable {
    public var databaseValue: DatabaseValue { .integer(self) }
    public static var databaseType: DatabaseType { .integer }
}
extension Int: DatabaseBindable {
    public var databaseValue: DatabaseValue { .integer(Int64(self)) }
    public static var databaseType: DatabaseType { .integer }
}
extension Int32: DatabaseBindable {
    public var databaseValue: DatabaseValue { .integer(Int64(self)) }
    public static var databaseType: DatabaseType { .integer }
}
extension Double: DatabaseBindable {
    public var databaseValue: DatabaseValue { .real(self) }
    public static var databaseType: DatabaseType { .real }
}
extension String: DatabaseBindable {
    public var databaseValue: DatabaseValue { .text(self) }
    public static var databaseType: DatabaseType { .text }
}
extension Data: DatabaseBindable {
    public var databaseValue: DatabaseValue { .blob(self) }
    public static var databaseType: DatabaseType { .blob }
}
extension Bool: DatabaseBindable {
    public var databaseValue: DatabaseValue { .integer(self ? 1 : 0) }
    public static var databaseType: DatabaseType { .integer }
}
extension Optional: DatabaseBindable where Wrapped: DatabaseBindable {
    public var databaseValue: DatabaseValue { self?.databaseValue ?? .null }
    public static var databaseType: DatabaseType { Wrapped.databaseType }
}
