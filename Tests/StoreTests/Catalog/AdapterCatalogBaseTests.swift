import Foundation
import Testing
import Store

@Suite("AdapterCatalog: base models")
struct AdapterCatalogBaseTests {
    /// Commits blobs for a model directory made from `seed` (the config shared by every seed, so a
    /// blob is shared between bases) and returns the base to `putBase`.
    static func makeBase(_ fixture: CatalogFixture, _ seed: String) throws -> NewBase {
        let config = try fixture.catalog.blobs.write(Data("{\"model_type\": \"gemma\"}".utf8)).digest
        let weights = try fixture.catalog.blobs.write(Data("weights of \(seed)".utf8)).digest
        return NewBase(digest: try SHA256.hash(Data("base \(seed)".utf8)),
                       files: ["config.json": config, "model.safetensors": weights], tensorCount: 3, descriptionJSON: "{}")
    }

    @Test("put, resolve by digest and name, idempotent, names move")
    func putAndResolve() throws {
        let fixture = try CatalogFixture()
        let new = try Self.makeBase(fixture, "a")
        let name = try AdapterName(validating: "google/gemma-2b")
        let (stored, created) = try fixture.catalog.putBase(new, name: name)
        #expect(created && stored.digest == new.digest && stored.names == [name] && stored.tensorCount == 3)
        #expect(stored.files.map(\.path) == ["config.json", "model.safetensors"])
        #expect(stored.totalBytes == stored.files.reduce(0) { $0 + $1.size } && stored.totalBytes > 0)
        #expect(try fixture.catalog.base(.name(name)) == stored)
        #expect(try fixture.catalog.base(.digest(new.digest)) == stored)
        let again = try fixture.catalog.putBase(try Self.makeBase(fixture, "a"))
        #expect(!again.created && again.base == stored)
        let other = try fixture.catalog.putBase(try Self.makeBase(fixture, "b"), name: name).base
        #expect(try fixture.catalog.base(.name(name)).digest == other.digest, "the name moved")
        #expect(try fixture.catalog.base(.digest(new.digest)).names.isEmpty)
        #expect(throws: CatalogError.unknownBase("nobody")) { try fixture.catalog.base(.name(try AdapterName(validating: "nobody"))) }
        // An adapter's name and a base's name are different things.
        #expect(throws: CatalogError.unknownReference("google/gemma-2b")) { try fixture.catalog.resolve(.name(name)) }
    }

    @Test("list pages newest first, limited to a namespace")
    func list() throws {
        let fixture = try CatalogFixture()
        for (i, seed) in ["a", "b", "c"].enumerated() {
            fixture.clock.advance(by: 1)
            try fixture.catalog.putBase(try Self.makeBase(fixture, seed), name: try AdapterName(validating: i == 1 ? "team-a/m\(i)" : "team-b/m\(i)"))
        }
        let page = try fixture.catalog.listBases(limit: 2, offset: 0)
        #expect(page.total == 3 && page.items.count == 2 && page.nextOffset == 2)
        #expect(page.items.first?.names.first?.rawValue == "team-b/m2")
        let teamA = try fixture.catalog.listBases(limit: 10, offset: 0, namespace: "team-a")
        #expect(teamA.total == 1 && teamA.items.map { $0.names.map(\.rawValue) } == [["team-a/m1"]])
        #expect(throws: CatalogError.self) { try fixture.catalog.listBases(limit: 0, offset: 0) }
    }

    @Test("delete is refused while a cached merge depends on the base, unless forced; shared blobs stay")
    func deleteAndForce() throws {
        let fixture = try CatalogFixture()
        let a = try fixture.catalog.putBase(try Self.makeBase(fixture, "a")).base
        let b = try fixture.catalog.putBase(try Self.makeBase(fixture, "b")).base
        let adapter = try fixture.putAdapter("adapter")
        let key = try CacheKey(adapter: adapter.digest, rank: 8, options: "merged;base=\(a.digest.hex)")
        let merged = try fixture.catalog.blobs.write(Data("merged shard".utf8)).digest
        let entry = try fixture.catalog.cacheInsert(key, configBlob: nil, weightsBlob: merged, base: a.digest).entry
        #expect(entry.base == a.digest)
        #expect(try fixture.catalog.cacheEntries(base: a.digest).map(\.key) == [key])
        #expect(throws: CatalogError.baseInUse(a.digest, cacheEntries: 1)) { try fixture.catalog.deleteBase(.digest(a.digest)) }
        let deletion = try fixture.catalog.deleteBase(.digest(a.digest), force: true)
        #expect(deletion.removedCacheEntries.map(\.key) == [key])
        let weightsOfA = a.file("model.safetensors")!.blob, config = a.file("config.json")!.blob
        #expect(Set(deletion.removedBlobs) == [weightsOfA, merged], "the shared config.json stays for b")
        #expect(!fixture.blobExists(weightsOfA) && !fixture.blobExists(merged) && fixture.blobExists(config))
        #expect(throws: CatalogError.unknownBase(a.digest.hex)) { try fixture.catalog.base(.digest(a.digest)) }
        // A merge recorded against a base deleted meanwhile is refused, its blob released.
        let late = try fixture.catalog.blobs.write(Data("late merge".utf8)).digest
        #expect(throws: CatalogError.unknownBase(a.digest.hex)) {
            try fixture.catalog.cacheInsert(key, configBlob: nil, weightsBlob: late, base: a.digest)
        }
        #expect(!fixture.blobExists(late))
        try fixture.catalog.deleteBase(.digest(b.digest))
        #expect(!fixture.blobExists(config))
    }

    @Test("a namespace's admin deletes only a base wholly its own")
    func namespacedDelete() throws {
        let fixture = try CatalogFixture()
        let base = try fixture.catalog.putBase(try Self.makeBase(fixture, "a"), name: try AdapterName(validating: "team-a/gemma")).base
        _ = try fixture.catalog.putBase(try Self.makeBase(fixture, "a"), name: try AdapterName(validating: "team-b/gemma"))
        #expect(throws: CatalogError.baseNamesOutsideNamespace(base.digest, namespace: "team-a")) {
            try fixture.catalog.deleteBase(.digest(base.digest), onlyIfAllNamesIn: "team-a")
        }
    }

    @Test("a damaged base file marks the base damaged and is kept in quarantine; the same upload repairs it")
    func damage() throws {
        let fixture = try CatalogFixture()
        let base = try fixture.catalog.putBase(try Self.makeBase(fixture, "a")).base
        let weights = base.file("model.safetensors")!.blob
        let report = try fixture.catalog.quarantine(weights, actual: nil)
        #expect(report.damagedBases == [base.digest] && report.damagedAdapters.isEmpty)
        #expect(try fixture.catalog.base(.digest(base.digest)).damaged)
        let repaired = try fixture.catalog.putBase(try Self.makeBase(fixture, "a")).base
        #expect(!repaired.damaged)
    }

    @Test("the cache's size does not count a blob a base holds")
    func cacheAccounting() throws {
        let fixture = try CatalogFixture()
        let base = try fixture.catalog.putBase(try Self.makeBase(fixture, "a")).base
        let adapter = try fixture.putAdapter("adapter")
        let key = try CacheKey(adapter: adapter.digest, rank: 8, options: "merged")
        // A merged shard that came out identical to the base's own (an adapter of zeros).
        try fixture.catalog.cacheInsert(key, configBlob: nil, weightsBlob: base.file("model.safetensors")!.blob, base: base.digest)
        #expect(try fixture.catalog.cacheCounters().bytes == 0)
        #expect(try fixture.catalog.evict(toBudget: 0).isEmpty)
    }
}
