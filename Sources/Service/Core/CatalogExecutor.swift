import Store

/// The catalog off Swift's cooperative threads: every SQLite call the service makes runs on one of
/// two threads of its own — reads on one (the catalog's read connection: WAL snapshots that never
/// wait for a commit), writes on the other (each commit's fsync blocks only that thread). A request
/// handler awaits the result and its cooperative thread serves other requests meanwhile.
///
/// Work queued here is dropped if the awaiting task is cancelled before it starts (see
/// `ComputePool`): a request whose client went away never writes.
final class CatalogExecutor: Sendable {
    let catalog: AdapterCatalog
    private let readers: ComputePool
    private let writers: ComputePool

    init(_ catalog: AdapterCatalog) {
        self.catalog = catalog
        readers = ComputePool(label: "lora-squeeze.catalog-read", width: 1)
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
