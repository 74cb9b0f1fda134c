import Foundation
import Testing
import Store

/// `copy(to:preferLinks:)` (`lora-squeeze migrate`): a single node's SQLite catalog into an empty
/// one — PostgreSQL when the suite runs on the test cluster, SQLite otherwise.
@Suite("AdapterCatalog: copying a catalog into an empty one")
struct AdapterCatalogCopyTests {
    /// A SQLite catalog with a row in every table: adapters and names, a base with a name, a pinned
    /// cache entry with hits, a merged entry computed from the base, a job with a finished and a
    /// pending item (and a lease), a token with a use, audit entries.
    static func populatedSource() throws -> (CatalogFixtureSQLite, [String: Int]) {
        let source = try CatalogFixtureSQLite()
        let catalog = source.catalog
        func write(_ text: String) throws -> SHA256Digest { try catalog.blobs.write(Data(text.utf8)).digest }
        let one = NewAdapter(digest: try SHA256.hash(Data("one".utf8)), format: .peft, configBlob: try write("{\"r\": 8}"),
                             weightsBlob: try write("weights one"), baseModel: "google/gemma-2b", moduleCount: 2, descriptionJSON: "{}")
        let two = NewAdapter(digest: try SHA256.hash(Data("two".utf8)), format: .kohya, configBlob: nil,
                             weightsBlob: try write("weights two"), baseModel: nil, moduleCount: 1, descriptionJSON: "{\"x\": 1}")
        let first = try catalog.put(one, name: try AdapterName(validating: "team-a/one")).adapter
        try catalog.put(two, name: try AdapterName(validating: "team-b/two"))
        try catalog.setName(try AdapterName(validating: "team-a/latest"), to: .digest(first.digest))
        let base = try catalog.putBase(NewBase(digest: try SHA256.hash(Data("base".utf8)),
                                               files: ["config.json": try write("{\"model_type\": \"gemma\"}"), "model.safetensors": try write("base weights")],
                                               tensorCount: 2, descriptionJSON: "{}"),
                                       name: try AdapterName(validating: "google/gemma-2b")).base
        let key = try CacheKey(adapter: first.digest, rank: 4, options: "m")
        try catalog.cacheInsert(key, configBlob: try write("{\"r\": 4}"), weightsBlob: try write("squeezed one"))
        try catalog.pin(key)
        _ = try catalog.cacheLookup(key)
        try catalog.flushCacheTouches()
        try catalog.cacheInsert(try CacheKey(adapter: first.digest, rank: 4, options: "merged;file=model.safetensors"),
                                configBlob: nil, weightsBlob: try write("merged shard"), base: base.digest)
        let job = try catalog.createJob(kind: "normalize", request: "{\"rank\": 4}", items: [first.digest.hex, "missing"])
        _ = try catalog.claimJob(job.id, owner: "single-node", lease: 15)
        try catalog.finishJobItem(job.id, position: 0, status: .done, result: "{\"ok\": true}")
        let token = try catalog.createToken(secretHash: try SHA256.hash(Data("secret".utf8)), name: "ci", scope: .write,
                                            namespace: "team-a", expiresAt: nil)
        try catalog.recordTokenUses([token.id: Date(timeIntervalSince1970: 1_800_000_000)])
        for index in 0..<3 {
            try catalog.appendAudit(AuditEntry(time: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)), tokenID: token.id,
                                               tokenName: "ci", namespace: "team-a", action: "POST /v1/adapters",
                                               target: "team-a/\(index)", status: 201, requestID: "r\(index)"))
        }
        return (source, ["blobs": 8, "adapters": 2, "names": 3, "bases": 1, "base_files": 2, "base_names": 1,
                         "squeeze_cache": 2, "jobs": 1, "job_items": 2, "tokens": 1, "audit_log": 3, "damaged_blobs": 0])
    }

    @Test("every row and blob arrives; the copy reads the same through the catalog's API; the source is untouched")
    func everything() throws {
        let (source, expected) = try Self.populatedSource()
        let destination = try CatalogFixture()
        let report = try source.catalog.copy(to: destination.catalog, preferLinks: true)
        #expect(report.rows == expected)
        #expect(report.blobsLinked + report.blobsCopied == 8 && report.blobsPresent == 0)
        let (a, b) = (source.catalog, destination.catalog)
        let query = AdapterQuery(limit: 100)
        #expect(try b.list(query) == a.list(query))
        for name in ["team-a/one", "team-a/latest", "team-b/two"] { #expect(try b.resolve(name) == a.resolve(name)) }
        #expect(try b.base(.name(try AdapterName(validating: "google/gemma-2b"))) == a.base(.name(try AdapterName(validating: "google/gemma-2b"))))
        let adapter = try a.resolve("team-a/one")
        #expect(try b.cacheEntries(for: adapter.digest) == a.cacheEntries(for: adapter.digest))
        let job = try #require(try a.unfinishedJobs().first)
        let copied = try #require(try b.job(job.id))
        #expect(copied.owner == nil && copied.leaseUntil == nil, "a lease is not copied: the fleet claims the job afresh")
        var withoutLease = job
        withoutLease.owner = nil
        withoutLease.leaseUntil = nil
        #expect(copied == withoutLease)
        #expect(try b.jobItems(job.id) == a.jobItems(job.id))
        #expect(try b.tokens() == a.tokens())
        #expect(try b.auditEntries(limit: 10).map(\.requestID) == a.auditEntries(limit: 10).map(\.requestID))
        #expect(try b.auditEntries(limit: 10).map(\.target) == ["team-a/2", "team-a/1", "team-a/0"], "newest first, order kept")
        #expect(try b.statistics().blobCount == 8 && b.statistics().blobBytes == a.statistics().blobBytes)
        for digest in try a.blobs.digests() { #expect(try b.blobs.verify(digest).isIntact) }
        #expect(try a.blobs.digests().count == 8 && a.statistics().adapterCount == 2, "the source keeps everything")
        // The copy is a working catalog: a new write goes through.
        #expect(try b.createJob(kind: "normalize", request: "{}", total: 1).state == .queued)
    }

    @Test("a destination that is not empty is refused before anything is written")
    func nonEmptyDestination() throws {
        let (source, _) = try Self.populatedSource()
        let destination = try CatalogFixture()
        try destination.putAdapter("already here")
        let blobsBefore = try destination.catalog.blobs.digests().count
        #expect(throws: CatalogError.self) { try source.catalog.copy(to: destination.catalog, preferLinks: true) }
        #expect(try destination.catalog.statistics().adapterCount == 1)
        #expect(try destination.catalog.blobs.digests().count == blobsBefore)
    }

    @Test("a blob whose content is not its digest stops the copy, and no row is written")
    func damagedBlob() throws {
        let (source, _) = try Self.populatedSource()
        let victim = try source.catalog.resolve("team-b/two").weightsBlob
        let path = source.catalog.blobs.path(for: victim)
        chmod(path, 0o644)
        try Data("not the weights".utf8).write(to: URL(fileURLWithPath: path))
        let destination = try CatalogFixture()
        let error = #expect(throws: CatalogError.self) { try source.catalog.copy(to: destination.catalog, preferLinks: false) }
        #expect("\(error.map { "\($0)" } ?? "")".contains(victim.hex))
        #expect(try destination.catalog.statistics().adapterCount == 0 && destination.catalog.statistics().blobCount == 0)
    }

    @Test("with preferLinks false every blob is copied (its own inode), with it linked (the same inode) on one filesystem")
    func linksAndCopies() throws {
        for preferLinks in [false, true] {
            let (source, _) = try Self.populatedSource()
            let destination = try CatalogFixture()
            let report = try source.catalog.copy(to: destination.catalog, preferLinks: preferLinks)
            #expect(preferLinks ? report.blobsLinked == 8 : report.blobsCopied == 8)
            for digest in try source.catalog.blobs.digests() {
                let a = try FileManager.default.attributesOfItem(atPath: source.catalog.blobs.path(for: digest))[.systemFileNumber] as? Int
                let b = try FileManager.default.attributesOfItem(atPath: destination.catalog.blobs.path(for: digest))[.systemFileNumber] as? Int
                #expect((a == b) == preferLinks)
            }
        }
    }
}

/// A SQLite catalog in a temporary directory, whatever backend the suite runs on: the source of a copy.
final class CatalogFixtureSQLite: @unchecked Sendable {
    let directory = makeTemporaryDirectory()
    let catalog: AdapterCatalog

    init() throws {
        catalog = try AdapterCatalog(directory: directory, logger: makeLogger())
    }

    deinit {
        catalog.close()
        try? FileManager.default.removeItem(at: directory)
    }
}
