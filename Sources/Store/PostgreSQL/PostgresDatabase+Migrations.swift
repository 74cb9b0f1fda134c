/// One step of a PostgreSQL schema: run `sql` to go from version `from` to version `to`.
///
/// A step may cover several versions at once: a new PostgreSQL catalog is created at the schema
/// SQLite reached through its first migrations, in one baseline step.
public struct PostgresMigration: Sendable {
    public let from: Int
    public let to: Int
    public let sql: String

    public init(from: Int, to: Int, sql: String) {
        self.from = from
        self.to = to
        self.sql = sql
    }
}

extension PostgresDatabase {
    /// Brings the schema up to `target`, recorded in the one-row table `catalog_schema`.
    ///
    /// Runs under a session advisory lock keyed by the database and schema, so replicas starting
    /// together migrate once: the first applies the steps, the others wait, then find nothing to
    /// do. Each step runs in its own transaction with the version update (PostgreSQL's DDL is
    /// transactional), so a failure leaves the last version that fully applied. A schema newer than
    /// `target` is refused with `PostgresError.schemaTooNew` rather than used by code that does not
    /// know its tables.
    @discardableResult
    public func migrate(_ migrations: [PostgresMigration], target: Int) throws -> (from: Int, to: Int) {
        try withPooledConnection { connection in
            try connection.run("SELECT pg_advisory_lock(CAST(? AS BIGINT))", [migrationLockKey])
            defer { _ = try? connection.run("SELECT pg_advisory_unlock(CAST(? AS BIGINT))", [migrationLockKey]) }
            try connection.execute("CREATE TABLE IF NOT EXISTS catalog_schema (version BIGINT NOT NULL)")
            let start = try currentVersion(connection)
            guard start <= target else { throw PostgresError.schemaTooNew(location: location, found: start, known: target) }
            var version = start
            while version < target {
                guard let step = migrations.first(where: { $0.from == version }), step.to > version, step.to <= target else {
                    throw PostgresError.invalidConfiguration("no migration takes the catalog from schema version \(version) towards \(target)")
                }
                try connection.transaction {
                    try connection.execute(step.sql)
                    try connection.execute("DELETE FROM catalog_schema; INSERT INTO catalog_schema (version) VALUES (\(step.to))")
                }
                version = step.to
                logger.info("applied schema migration", metadata: ["location": "\(location)", "version": "\(version)"])
            }
            return (start, version)
        }
    }

    /// The schema version (0 for a database the catalog has never used).
    public func schemaVersion() throws -> Int {
        try withPooledConnection { connection in
            guard try connection.queryFirst("SELECT to_regclass('catalog_schema') IS NOT NULL", { try $0.column(0) as Bool }) == true else {
                return 0
            }
            return try currentVersion(connection)
        }
    }

    private func currentVersion(_ connection: PostgresConnection) throws -> Int {
        (try connection.queryFirst("SELECT max(version) FROM catalog_schema") { try $0.column(0) as Int? } ?? nil) ?? 0
    }
}
