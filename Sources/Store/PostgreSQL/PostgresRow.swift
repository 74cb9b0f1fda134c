import CLibPQ
import Foundation

/// One row of a PostgreSQL result (text format), its columns mapped onto `DatabaseValue` by type:
/// `int2`/`int4`/`int8` and `bool` (as 0/1) are integers, `float4`/`float8` reals, `numeric` an
/// integer when it has no fraction (what `sum` of a `bigint` column returns) and a real otherwise,
/// `bytea` a blob, everything else text. A mismatched `column` throws `PostgresError.columnType`.
public struct PostgresRow: DatabaseRow {
    let result: OpaquePointer
    let row: Int32
    let sql: String

    // Type OIDs from PostgreSQL's pg_type.dat: fixed since PostgreSQL 7.
    static let bool: Oid = 16, bytea: Oid = 17, int8: Oid = 20, int2: Oid = 21, int4: Oid = 23
    static let float4: Oid = 700, float8: Oid = 701, numeric: Oid = 1700, text: Oid = 25

    public var columnCount: Int { Int(PQnfields(result)) }

    public func columnName(_ index: Int) -> String {
        guard let column = Int32(exactly: index), let name = PQfname(result, column) else { return "?" }
        return String(cString: name)
    }

    public func value(_ index: Int) -> DatabaseValue {
        guard let column = Int32(exactly: index), column >= 0, column < PQnfields(result),
              PQgetisnull(result, row, column) == 0, let raw = PQgetvalue(result, row, column) else { return .null }
        let length = Int(PQgetlength(result, row, column))
        let text = String(decoding: UnsafeRawBufferPointer(start: raw, count: length), as: UTF8.self)
        switch PQftype(result, column) {
        case Self.int2, Self.int4, Self.int8:
            return Int64(text).map(DatabaseValue.integer) ?? .text(text)
        case Self.bool:
            return .integer(text == "t" ? 1 : 0)
        case Self.float4, Self.float8:
            return Double(text).map(DatabaseValue.real) ?? .text(text)
        case Self.numeric:
            if let integer = Int64(text) { return .integer(integer) }
            return Double(text).map(DatabaseValue.real) ?? .text(text)
        case Self.bytea:
            return Self.decodeHexBytea(text).map(DatabaseValue.blob) ?? .text(text)
        default:
            return .text(text)
        }
    }

    public func typeMismatch(_ index: Int, expected: String) -> any Error {
        let found = switch value(index) {
        case .integer: "INTEGER"
        case .real: "REAL"
        case .text: "TEXT"
        case .blob: "BLOB"
        case .null: "NULL"
        }
        return PostgresError.columnType(sql: sql, column: index, name: columnName(index), expected: expected, found: found)
    }

    /// `bytea` in its hex output format (`\x0a1b…`, the default since PostgreSQL 9.0).
    static func decodeHexBytea(_ text: String) -> Data? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"), bytes.count % 2 == 0 else { return nil }
        func nibble(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var data = Data(capacity: (bytes.count - 2) / 2)
        var index = 2
        while index < bytes.count {
            guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else { return nil }
            data.append(high << 4 | low)
            index += 2
        }
        return data
    }
}
