import CLibPQ
import Foundation

/// An open libpq connection, handed to the closures of `PostgresDatabase` while it is checked out
/// of the pool.
///
/// Not `Sendable` and not to be kept beyond the closure. Every statement run with parameters is
/// prepared once per connection (`PQprepare`, parameter types from the bindings' Swift types) and
/// run with `PQexecPrepared`; parameters go as text, except blobs, which go as binary `bytea`.
public final class PostgresConnection: DatabaseConnection {
    let handle: OpaquePointer
    /// The catalog URL without its password, for error messages.
    public let location: String
    /// Prepared statements by their SQL as the catalog wrote it and their parameters' types: the
    /// server-side name and the number of parameters.
    private var prepared: [PreparedKey: (name: String, parameters: Int)] = [:]

    private struct PreparedKey: Hashable {
        let sql: String
        let types: [Oid]
    }

    init(handle: OpaquePointer, location: String) {
        self.handle = handle
        self.location = location
    }

    deinit { PQfinish(handle) }

    /// True while libpq considers the connection usable; a connection broken mid-query reports
    /// false and is dropped by the pool rather than reused.
    var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// True outside a transaction block.
    public var isIdle: Bool { PQtransactionStatus(handle) == PQTRANS_IDLE }

    public func execute(_ sql: String) throws {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, sql: sql)
    }

    @discardableResult
    public func run(_ sql: String, _ bindings: [any DatabaseBindable] = []) throws -> Int {
        let result = try perform(sql, bindings)
        defer { PQclear(result) }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    public func query<T>(_ sql: String, _ bindings: [any DatabaseBindable] = [],
                         _ transform: (any DatabaseRow) throws -> T) throws -> [T] {
        let result = try perform(sql, bindings)
        defer { PQclear(result) }
        let count = PQntuples(result)
        var rows: [T] = []
        rows.reserveCapacity(Int(count))
        for row in 0..<count { rows.append(try transform(PostgresRow(result: result, row: row, sql: sql))) }
        return rows
    }

    public func queryFirst<T>(_ sql: String, _ bindings: [any DatabaseBindable] = [],
                              _ transform: (any DatabaseRow) throws -> T) throws -> T? {
        let result = try perform(sql, bindings)
        defer { PQclear(result) }
        guard PQntuples(result) > 0 else { return nil }
        return try transform(PostgresRow(result: result, row: 0, sql: sql))
    }

    /// `BEGIN` … `COMMIT`, rolled back when `body` throws. A `COMMIT` the server turns into a
    /// rollback (the transaction had failed) throws rather than reporting success.
    @discardableResult
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try transaction("BEGIN", body)
    }

    /// `transaction` opened with `begin` (e.g. `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY`).
    /// Refused inside another transaction, as SQLite refuses a nested `BEGIN`: PostgreSQL would only
    /// warn, and the inner `COMMIT` would commit the outer transaction's work.
    func transaction<T>(_ begin: String, _ body: () throws -> T) throws -> T {
        guard isIdle else {
            throw PostgresError.query(sql: begin, sqlState: "25001", message: "a transaction is already open on this connection")
        }
        try execute(begin)
        do {
            let value = try body()
            let result = PQexec(handle, "COMMIT")
            defer { PQclear(result) }
            try check(result, sql: "COMMIT")
            guard String(cString: PQcmdStatus(result)) == "COMMIT" else {
                throw PostgresError.query(sql: "COMMIT", sqlState: "25P02", message: "the transaction had failed and was rolled back")
            }
            return value
        } catch {
            if PQtransactionStatus(handle) != PQTRANS_IDLE { try? execute("ROLLBACK") }
            throw error
        }
    }

    // MARK: Statements

    /// Prepares `sql` (once) and runs it with `bindings`; the caller clears the result.
    private func perform(_ sql: String, _ bindings: [any DatabaseBindable]) throws -> OpaquePointer {
        let types = bindings.map(Self.typeOID)
        // Checked before anything is sent: a NUL the text type cannot hold.
        for (index, binding) in bindings.enumerated() {
            if case .text(let text) = binding.databaseValue, text.utf8.contains(0) {
                throw PostgresError.nulInText(sql: sql, parameter: index + 1)
            }
        }
        let statement = try statementName(sql, types: types)
        let count = bindings.count
        var values = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        var lengths = [Int32](repeating: 0, count: count)
        var formats = [Int32](repeating: 0, count: count)
        defer { for value in values { free(value) } }
        for (index, binding) in bindings.enumerated() {
            switch binding.databaseValue {
            case .null: break
            case .integer(let number): values[index] = strdup(String(number))
            case .real(let number): values[index] = strdup(Self.text(of: number))
            case .text(let text):
                values[index] = strdup(text)
            case .blob(let data):
                guard let length = Int32(exactly: data.count) else {
                    throw PostgresError.invalidConfiguration("a blob parameter of \(data.count) bytes is over libpq's limit")
                }
                guard let buffer = malloc(max(data.count, 1))?.assumingMemoryBound(to: CChar.self) else {
                    throw PostgresError.invalidConfiguration("no memory for a blob parameter of \(data.count) bytes")
                }
                data.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { memcpy(buffer, base, raw.count) }
                }
                values[index] = buffer
                lengths[index] = length
                formats[index] = 1
            }
        }
        let constValues: [UnsafePointer<CChar>?] = values.map { $0.map { UnsafePointer($0) } }
        let result = PQexecPrepared(handle, statement.name, Int32(count), constValues, lengths, formats, 0)
        do { try check(result, sql: sql) } catch {
            PQclear(result)
            throw error
        }
        guard let result else { throw PostgresError.query(sql: sql, sqlState: nil, message: "no result") }
        return result
    }

    /// The prepared statement for `sql` with parameters of `types`, preparing it on first use.
    /// A binding count that does not match the SQL is refused before anything is sent.
    private func statementName(_ sql: String, types: [Oid]) throws -> (name: String, parameters: Int) {
        let key = PreparedKey(sql: sql, types: types)
        if let known = prepared[key] { return known }
        let (translated, count) = PostgresPlaceholders.translate(sql)
        guard let parameters = count else {
            throw PostgresError.invalidConfiguration("\(quoted(sql, limit: 200)) numbers a parameter past \(PostgresPlaceholders.maxParameterNumber), PostgreSQL's limit")
        }
        guard types.count == parameters else {
            throw PostgresError.bindingCount(sql: sql, expected: parameters, given: types.count)
        }
        let name = "lsq_\(prepared.count + 1)"
        let result = PQprepare(handle, name, translated, Int32(parameters), parameters == 0 ? nil : types)
        defer { PQclear(result) }
        try check(result, sql: sql)
        prepared[key] = (name, parameters)
        return (name, parameters)
    }

    /// The type a binding is declared as: its Swift type's, or for a `DatabaseValue` its case's
    /// (NULL left to the server to infer).
    static func typeOID(_ binding: any DatabaseBindable) -> Oid {
        var type = type(of: binding).databaseType
        if type == .ofValue {
            switch binding.databaseValue {
            case .integer: type = .integer
            case .real: type = .real
            case .text: type = .text
            case .blob: type = .blob
            case .null: return 0
            }
        }
        switch type {
        case .integer: return PostgresRow.int8
        case .real: return PostgresRow.float8
        case .text: return PostgresRow.text
        case .blob: return PostgresRow.bytea
        case .ofValue: return 0
        }
    }

    /// Throws unless `result` is a success (a command or a result set).
    private func check(_ result: OpaquePointer?, sql: String) throws {
        guard let result else {
            throw PostgresError.query(sql: sql, sqlState: nil, message: Self.message(PQerrorMessage(handle)))
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY: return
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            throw PostgresError.query(sql: sql, sqlState: state, message: Self.message(PQresultErrorMessage(result)))
        }
    }

    /// A libpq message without its trailing newline.
    static func message(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown error" }
        let message = String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
        return message.isEmpty ? "unknown error" : message
    }

    /// A double as PostgreSQL's float8 input reads it back exactly (Swift's shortest round-trip form).
    static func text(of number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number < 0 ? "-Infinity" : "Infinity" }
        return "\(number)"
    }
}
