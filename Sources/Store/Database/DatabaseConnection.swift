/// One open connection to the catalog's database, handed to the closures of `CatalogDatabase`'s
/// `read`, `withConnection` and `transaction` while the connection is held.
///
/// Not `Sendable` and not to be kept beyond the closure. SQL is written once for both backends:
/// parameters as `?` or `?N` (the PostgreSQL backend rewrites them to `$N`), no SQLite-only or
/// PostgreSQL-only functions (`max(a, b)` of two values is written as a `CASE`), and an explicit
/// `CAST` where PostgreSQL could not infer a parameter's type.
public protocol DatabaseConnection: AnyObject {
    /// Runs one or more `;`-separated statements without parameters (schema scripts).
    func execute(_ sql: String) throws
    /// Runs a statement with `bindings`; returns the number of rows it changed.
    @discardableResult
    func run(_ sql: String, _ bindings: [any DatabaseBindable]) throws -> Int
    /// Runs a query with `bindings` and maps every row with `transform`.
    func query<T>(_ sql: String, _ bindings: [any DatabaseBindable], _ transform: (any DatabaseRow) throws -> T) throws -> [T]
    /// The first row of a query mapped with `transform`, or nil when it returns no row.
    func queryFirst<T>(_ sql: String, _ bindings: [any DatabaseBindable], _ transform: (any DatabaseRow) throws -> T) throws -> T?
    /// Runs `body` in a write transaction: committed when it returns, rolled back when it throws.
    @discardableResult
    func transaction<T>(_ body: () throws -> T) throws -> T
}

extension DatabaseConnection {
    @discardableResult
    public func run(_ sql: String) throws -> Int { try run(sql, []) }

    public func query<T>(_ sql: String, _ transform: (any DatabaseRow) throws -> T) throws -> [T] {
        try query(sql, [], transform)
    }

    public func queryFirst<T>(_ sql: String, _ transform: (any DatabaseRow) throws -> T) throws -> T? {
        try queryFirst(sql, [], transform)
    }
}
