import Foundation
import Logging
import Store

/// A logger that stays quiet unless something is critical.
func makeLogger() -> Logger {
    var logger = Logger(label: "StoreTests")
    logger.logLevel = .critical
    return logger
}

/// A catalog in a temporary directory with a hand-driven clock; `reopen()` simulates a restart.
///
/// With `LORA_SQUEEZE_TEST_POSTGRES` set (`make test` sets it for a second run of the catalog suites,
/// through Tests/Postgres/with-cluster.sh), the catalog's rows go to PostgreSQL instead, in a schema
/// of the fixture's own that is dropped with it: the same tests, both backends.
final class CatalogFixture: @unchecked Sendable {
    let directory: URL
    let clock = TestClock()
    private(set) var catalog: AdapterCatalog
    /// The fixture's PostgreSQL schema, when on PostgreSQL.
    let schema: String?

    /// The PostgreSQL URL the catalog suites run against, or nil for SQLite.
    static let postgresURL: String? = ProcessInfo.processInfo.environment["LORA_SQUEEZE_TEST_POSTGRES"]
    static var onPostgres: Bool { postgresURL != nil }

    init(configuration: AdapterCatalog.Configuration = .init()) throws {
        directory = makeTemporaryDirectory()
        schema = try Self.postgresURL.map { _ in try PostgresTestSchemas.create() }
        catalog = try AdapterCatalog(directory: directory, configuration: Self.backend(configuration, schema),
                                     logger: makeLogger(), clock: clock.function)
    }

    deinit {
        catalog.close()
        try? FileManager.default.removeItem(at: directory)
        if let schema { PostgresTestSchemas.drop(schema) }
    }

    /// Closes the catalog and opens it again (from disk, or from the same PostgreSQL schema), as a
    /// new process would.
    @discardableResult
    func reopen(configuration: AdapterCatalog.Configuration = .init()) throws -> AdapterCatalog {
        catalog.close()
        catalog = try AdapterCatalog(directory: directory, configuration: Self.backend(configuration, schema),
                                     logger: makeLogger(), clock: clock.function)
        return catalog
    }

    /// Another catalog on the same data directory and database, as a second process would open it.
    func openAnother(configuration: AdapterCatalog.Configuration = .init()) throws -> AdapterCatalog {
        try AdapterCatalog(directory: directory, configuration: Self.backend(configuration, schema),
                           logger: makeLogger(), clock: clock.function)
    }

    /// A connection to the catalog's database of its own (not through the catalog, which shows
    /// what it holds in memory): the SQLite file, or the fixture's PostgreSQL schema.
    func independentDatabase() throws -> any CatalogDatabase {
        if let schema, let url = Self.postgresURL {
            return try PostgresDatabase(configuration: .init(url: PostgresTestSchemas.url(url, schema: schema), poolSize: 1),
                                        logger: makeLogger())
        }
        return try SQLiteDatabase(path: directory.appendingPathComponent("catalog.sqlite").path, logger: makeLogger())
    }

    /// `configuration` on the fixture's PostgreSQL schema when there is one.
    private static func backend(_ configuration: AdapterCatalog.Configuration, _ schema: String?) -> AdapterCatalog.Configuration {
        guard let schema, let url = postgresURL else { return configuration }
        var configuration = configuration
        configuration.postgres = PostgresDatabase.Configuration(url: PostgresTestSchemas.url(url, schema: schema))
        configuration.replica = "test"
        return configuration
    }

    /// What this process has in its temporary directory (`tmp/`, or `tmp/<replica>/` on PostgreSQL).
    var tmpListing: [String] { listing(catalog.blobs.temporaryDirectory) }

    /// Commits a config and a weights blob made from `seed` and returns the adapter to `put`; the
    /// adapter digest is the hash of both, standing in for the service's canonical digest.
    func makeAdapter(_ seed: String, format: AdapterFormat = .peft, baseModel: String? = "base-1b",
                     config: String? = nil, moduleCount: Int = 4) throws -> NewAdapter {
        let configText = config ?? "{\"seed\": \"\(seed)\"}"
        let configBlob = format == .peft ? try catalog.blobs.write(Data(configText.utf8)).digest : nil
        let weightsBlob = try catalog.blobs.write(Data("weights of \(seed)".utf8)).digest
        let digest = try SHA256.hash(Data((configText + "|weights of " + seed).utf8))
        return NewAdapter(digest: digest, format: format, configBlob: configBlob, weightsBlob: weightsBlob,
                          baseModel: baseModel, moduleCount: moduleCount, descriptionJSON: "{\"modules\": \(moduleCount)}")
    }

    /// Puts a fresh adapter made from `seed`.
    @discardableResult
    func putAdapter(_ seed: String, name: String? = nil, baseModel: String? = "base-1b") throws -> AdapterRecord {
        let adapter = try makeAdapter(seed, baseModel: baseModel)
        return try catalog.put(adapter, name: name.map { try AdapterName(validating: $0) }).adapter
    }

    /// Commits squeezed output blobs of exactly `bytes` bytes in all (content from `seed`) and
    /// records them under `key`.
    @discardableResult
    func insertCache(_ key: CacheKey, seed: String, bytes: Int = 100, config: String? = nil) throws -> CacheEntry {
        let configData = config.map { Data($0.utf8) }
        var weights = Data("squeezed \(seed)|".utf8)
        let wanted = bytes - (configData?.count ?? 0)
        precondition(wanted >= weights.count, "bytes too small for the seed")
        weights.append(Data(count: wanted - weights.count))
        let configBlob = try configData.map { try catalog.blobs.write($0).digest }
        let weightsBlob = try catalog.blobs.write(weights).digest
        return try catalog.cacheInsert(key, configBlob: configBlob, weightsBlob: weightsBlob).entry
    }

    func blobExists(_ digest: SHA256Digest) -> Bool {
        FileManager.default.fileExists(atPath: catalog.blobs.path(for: digest))
    }
}
