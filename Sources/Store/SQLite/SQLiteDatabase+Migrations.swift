extension SQLiteDatabase {
    /// Brings the schema up to date by `PRAGMA user_version`.
    ///
    /// `migrations[i]` takes the schema from version `i` to `i + 1`; a new file is version 0. Each
    /// pending migration runs in its own `BEGIN IMMEDIATE` transaction together with the version
    /// bump, so a failure leaves the database at the last version that fully applied, and two
    /// processes opening the same file cannot both apply the same step. Migration SQL must not
    /// contain `BEGIN`/`COMMIT`. A database newer than `migrations.count` is refused with
    /// `SQLiteError.schemaTooNew` rather than used by code that does not know its tables.
    ///
    /// - Returns: the versions before and after.
    @discardableResult
    public func migrate(_ migrations: [String]) throws -> (from: Int, to: Int) {
        let start = try userVersion()
        while true {
            let applied: Int? = try withSQLiteConnection { connection in try connection.transaction {
                let version = try connection.userVersion()
                guard version <= migrations.count else {
                    throw SQLiteError.schemaTooNew(path: path, found: version, known: migrations.count)
                }
                guard version < migrations.count else { return nil }
                try connection.execute(migrations[version])
                try connection.setUserVersion(version + 1)
                return version + 1
            } }
            guard let applied else { break }
            logger.info("applied schema migration", metadata: ["path": "\(path)", "version": "\(applied)"])
        }
        return (start, try userVersion())
    }
}
