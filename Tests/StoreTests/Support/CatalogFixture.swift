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
final class CatalogFixture: @unchecked Sendable {
    let directory: URL
    let clock = TestClock()
    private(set) var catalog: AdapterCatalog

    init(configuration: AdapterCatalog.Configuration = .init()) throws {
        directory = makeTemporaryDirectory()
        catalog = try AdapterCatalog(directory: directory, configuration: configuration, logger: makeLogger(),
                                     clock: clock.function)
    }

    deinit {
        catalog.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Closes the catalog and opens it again from disk, as a new process would.
    @discardableResult
    func reopen(configuration: AdapterCatalog.Configuration = .init()) throws -> AdapterCatalog {
        catalog.close()
        catalog = try AdapterCatalog(directory: directory, configuration: configuration, logger: makeLogger(),
                                     clock: clock.function)
        return catalog
    }

    var tmpListing: [String] { listing(directory.appendingPathComponent("tmp")) }

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
