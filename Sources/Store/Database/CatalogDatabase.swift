/// The database under `AdapterCatalog`: SQLite (`SQLiteDatabase`, the embedded default) or
/// PostgreSQL (`PostgresDatabase`, shared by replicas). Both give the catalog the same guarantees:
///
/// - `read` runs on a consistent snapshot of the last commit and never waits for a writer.
/// - `withConnection` is exclusive among writers: at most one closure runs at a time across every
///   process on the same catalog (SQLite: the writer connection's lock, and the file's write lock
///   for other processes; PostgreSQL: a session advisory lock held for the whole closure), so a
///   write can check, commit, then act on files with no other write slipping in between.
/// - `transaction` is `withConnection` with a transaction around the closure.
///
/// Calls block the calling thread (run them off Swift's cooperative threads) and never suspend.
public protocol CatalogDatabase: AnyObject, Sendable {
    /// Where the database is, for logs and errors (a path, or a URL without its password).
    var location: String { get }
    @discardableResult
    func read<T>(_ body: (any DatabaseConnection) throws -> T) throws -> T
    @discardableResult
    func withConnection<T>(_ body: (any DatabaseConnection) throws -> T) throws -> T
    @discardableResult
    func transaction<T>(_ body: (any DatabaseConnection) throws -> T) throws -> T
    /// Brings the schema up to `version` (see `CatalogSchema`); returns the versions before and after.
    @discardableResult
    func migrateCatalog() throws -> (from: Int, to: Int)
    /// The schema version the database is at.
    func schemaVersion() throws -> Int
    /// Closes every connection; later calls throw the backend's `closed` error. Idempotent.
    func close()
    /// True when `error` is this backend's "the database is closed".
    func isClosedError(_ error: any Error) -> Bool
    /// Tries to take the fleet-wide lock named `name` without waiting: the lock, or nil when another
    /// process holds it (see `ComputeLock`).
    func tryComputeLock(_ name: String) throws -> ComputeLock?
}
