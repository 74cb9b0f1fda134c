import Foundation

extension AdapterCatalog {
    /// Proves the catalog can take writes, for a readiness probe: takes the database's write lock
    /// (`BEGIN IMMEDIATE`, then rolls back) and writes and removes a temp file in `tmp/`.
    /// Throws the `SQLiteError` or `BlobStoreError` that would stop an upload.
    public func checkWritable() throws {
        struct Probe: Error {}
        do {
            try database.transaction { _ in throw Probe() }
        } catch is Probe {
            // Rolled back as intended: the write lock was obtained.
        }
        let writer = try blobs.makeWriter()
        defer { writer.abort() }
        try writer.append(Data("probe".utf8))
    }
}
