import Store

/// The catalog off Swift's cooperative threads: every catalog call the service makes runs on
/// threads of its own — reads on one (SQLite's read connection: WAL snapshots that never wait for a
/// commit) or several (PostgreSQL's pool), writes on another (each commit blocks only that thread). A request
/// handler awaits the result and its cooperative thread serves other requests meanwhile.
///
/// Work queued here is dropped if the awaiting task is cancelled before it starts (see
/// `ComputePool`): a request whose client went away never writes.
final class CatalogExecutor: Sendable {
    let catalog: AdapterCatalog
    private let readers: ComputePool
    private let writers: ComputePool

    /// - Parameter readers: threads for reads. SQLite has one read connection, so one; a PostgreSQL
    ///   catalog's pool serves several reads at once (its size less one, kept for the writer).
    init(_ catalog: AdapterCatalog, readers readerCount: Int = 1) {
        self.catalog = catalog
        readers = ComputePool(label: "lora-squeeze.catalog-read", width: max(1, readerCount))
        writers = ComputePool(label: "lora-squeeze.catalog-write", width: 1)
    }

    /// Runs `body` (catalog reads only) on the read thread.
    @discardableResult
    func read<T: Sendable>(_ body: @escaping @Sendable (AdapterCatalog) throws -> T) async throws -> T {
        let catalog = self.catalog
        return try await readers.run { try body(catalog) }
    }

    /// Runs `body` (which may write) on the write thread.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (AdapterCatalog) throws -> T) async throws -> T {
        let catalog = self.catalog
        return try await writers.run { try body(catalog) }
    }

    /// Lets queued work finish, then no more is taken. The catalog itself is closed by its owner.
    func close() {
        readers.close()
        writers.close()
    }
}
