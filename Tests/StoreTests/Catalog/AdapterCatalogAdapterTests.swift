import Foundation
import Testing
import Store

@Suite("AdapterCatalog: put, resolve, list, delete")
struct AdapterCatalogAdapterTests {
    @Test("put stores the record with sizes taken from the blob files")
    func put() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.makeAdapter("one")
        let result = try fixture.catalog.put(adapter, name: AdapterName(validating: "first"))
        #expect(result.created)
        let record = result.adapter
        let configBlob = try #require(adapter.configBlob)
        let configSize = try #require(try fixture.catalog.blobs.size(of: configBlob))
        let weightsSize = try #require(try fixture.catalog.blobs.size(of: adapter.weightsBlob))
        #expect(record.digest == adapter.digest && record.format == .peft && record.baseModel == "base-1b")
        #expect(record.configBlob == adapter.configBlob && record.weightsBlob == adapter.weightsBlob)
        #expect(record.moduleCount == 4 && record.descriptionJSON == "{\"modules\": 4}")
        #expect(record.totalBytes == configSize + weightsSize)
        #expect(record.createdAt == fixture.clock.now)
        #expect(record.names.map(\.rawValue) == ["first"])
        #expect(try fixture.catalog.adapter(adapter.digest) == record)
    }

    @Test("putting the same digest again returns the existing record with created: false")
    func duplicatePut() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.makeAdapter("dup")
        let first = try fixture.catalog.put(adapter)
        fixture.clock.advance(by: 60)
        var changed = adapter
        changed.descriptionJSON = "{\"other\": true}"
        let second = try fixture.catalog.put(changed, name: AdapterName(validating: "tagged-later"))
        #expect(!second.created)
        #expect(second.adapter.createdAt == first.adapter.createdAt)
        #expect(second.adapter.descriptionJSON == first.adapter.descriptionJSON)
        #expect(second.adapter.names.map(\.rawValue) == ["tagged-later"])
        #expect(try fixture.catalog.list().total == 1)
    }

    @Test("a duplicate put with other blobs removes the blobs it did not use")
    func duplicatePutDropsUnusedBlobs() throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.makeAdapter("dup")
        try fixture.catalog.put(adapter)
        var again = adapter
        again.weightsBlob = try fixture.catalog.blobs.write(Data("a re-encoded copy".utf8)).digest
        #expect(!(try fixture.catalog.put(again).created))
        #expect(!fixture.blobExists(again.weightsBlob))
        #expect(fixture.blobExists(adapter.weightsBlob))
    }

    @Test("put refuses a missing blob and stores nothing")
    func missingBlob() throws {
        let fixture = try CatalogFixture()
        var adapter = try fixture.makeAdapter("orphan")
        let absent = try SHA256.hash(Data("never committed".utf8))
        adapter.weightsBlob = absent
        #expect(throws: CatalogError.missingBlob(absent)) {
            try fixture.catalog.put(adapter, name: AdapterName(validating: "never"))
        }
        #expect(try fixture.catalog.adapter(adapter.digest) == nil)
        #expect(throws: CatalogError.unknownReference("never")) { try fixture.catalog.resolve("never") }
        #expect(try fixture.catalog.statistics().blobCount == 0)
    }

    @Test("PEFT needs a config blob, kohya does not; module count cannot be negative")
    func formats() throws {
        let fixture = try CatalogFixture()
        var peft = try fixture.makeAdapter("peft")
        peft.configBlob = nil
        #expect(throws: CatalogError.self) { try fixture.catalog.put(peft) }
        let kohya = try fixture.makeAdapter("kohya", format: .kohya)
        let record = try fixture.catalog.put(kohya).adapter
        #expect(record.format == .kohya && record.configBlob == nil)
        #expect(record.totalBytes == Int64("weights of kohya".utf8.count))
        var negative = try fixture.makeAdapter("negative")
        negative.moduleCount = -1
        #expect(throws: CatalogError.invalidAdapter(negative.digest, "module count -1 is negative")) {
            try fixture.catalog.put(negative)
        }
    }

    @Test("resolve takes a digest or a name; unknown and invalid references are typed errors")
    func resolve() throws {
        let fixture = try CatalogFixture()
        let record = try fixture.putAdapter("r", name: "named")
        #expect(try fixture.catalog.resolve(record.digest.hex) == record)
        #expect(try fixture.catalog.resolve("named") == record)
        #expect(try fixture.catalog.resolve(.name(AdapterName(validating: "named"))) == record)
        let unknownDigest = try SHA256.hash(Data("nobody".utf8))
        #expect(throws: CatalogError.unknownReference(unknownDigest.hex)) { try fixture.catalog.resolve(unknownDigest.hex) }
        #expect(throws: CatalogError.unknownReference("nameless")) { try fixture.catalog.resolve("nameless") }
        #expect(throws: CatalogError.invalidReference("../named", .invalidFirstCharacter("../named"))) {
            try fixture.catalog.resolve("../named")
        }
        #expect(throws: CatalogError.invalidReference("", .empty)) { try fixture.catalog.resolve("") }
    }

    @Test("list pages newest first, with total and next offset")
    func paging() throws {
        let fixture = try CatalogFixture()
        var records: [AdapterRecord] = []
        for index in 0..<5 {
            records.append(try fixture.putAdapter("p\(index)", name: "page-\(index)"))
            fixture.clock.advance()
        }
        let newestFirst = records.reversed().map(\.digest)
        let first = try fixture.catalog.list(AdapterQuery(limit: 2))
        #expect(first.items.map(\.digest) == Array(newestFirst[0..<2]) && first.total == 5 && first.nextOffset == 2)
        #expect(first.items[0].names.map(\.rawValue) == ["page-4"])
        let last = try fixture.catalog.list(AdapterQuery(limit: 2, offset: 4))
        #expect(last.items.map(\.digest) == [newestFirst[4]] && last.nextOffset == nil)
        let beyond = try fixture.catalog.list(AdapterQuery(limit: 2, offset: 10))
        #expect(beyond.items.isEmpty && beyond.total == 5 && beyond.nextOffset == nil)
    }

    @Test("list filters by name prefix and by base model")
    func filters() throws {
        let fixture = try CatalogFixture()
        let a = try fixture.putAdapter("a", name: "team.alpha", baseModel: "llama")
        let b = try fixture.putAdapter("b", name: "team.beta", baseModel: "gemma")
        let c = try fixture.putAdapter("c", name: "other", baseModel: "llama")
        let unnamed = try fixture.putAdapter("d", baseModel: nil)
        func digests(_ query: AdapterQuery) throws -> Set<SHA256Digest> { Set(try fixture.catalog.list(query).items.map(\.digest)) }
        #expect(try digests(AdapterQuery(namePrefix: "team.")) == [a.digest, b.digest])
        #expect(try digests(AdapterQuery(namePrefix: "team.alpha")) == [a.digest])
        #expect(try digests(AdapterQuery(namePrefix: "team.alphas")).isEmpty)
        #expect(try digests(AdapterQuery(namePrefix: "TEAM")).isEmpty)  // names are case-sensitive
        #expect(try digests(AdapterQuery(namePrefix: "")) == [a.digest, b.digest, c.digest])
        #expect(try digests(AdapterQuery(baseModel: "llama")) == [a.digest, c.digest])
        #expect(try digests(AdapterQuery(namePrefix: "team", baseModel: "llama")) == [a.digest])
        #expect(try digests(AdapterQuery()) == [a.digest, b.digest, c.digest, unnamed.digest])
        #expect(try fixture.catalog.list(AdapterQuery(namePrefix: "team.")).total == 2)
    }

    @Test("list limits: 1 and maxLimit accepted, 0 and maxLimit + 1 refused, bad prefixes refused")
    func listLimits() throws {
        let fixture = try CatalogFixture()
        #expect(try fixture.catalog.list(AdapterQuery(limit: 1)).items.isEmpty)
        #expect(try fixture.catalog.list(AdapterQuery(limit: AdapterQuery.maxLimit)).items.isEmpty)
        for query in [AdapterQuery(limit: 0), AdapterQuery(limit: AdapterQuery.maxLimit + 1), AdapterQuery(offset: -1),
                      AdapterQuery(namePrefix: "a b"), AdapterQuery(namePrefix: "%"), AdapterQuery(namespace: "a/b"), AdapterQuery(namespace: ""),
                      AdapterQuery(namePrefix: String(repeating: "a", count: AdapterName.maxLength + 1))] {
            #expect(throws: CatalogError.self) { try fixture.catalog.list(query) }
        }
        #expect(try fixture.catalog.list(AdapterQuery(namePrefix: String(repeating: "a", count: AdapterName.maxLength))).total == 0)
    }

    @Test("delete removes names, cache entries and unreferenced blobs, and keeps shared blobs")
    func delete() throws {
        let fixture = try CatalogFixture()
        // Two adapters with the same config content share its blob.
        let shared = "{\"r\": 16}"
        let doomed = try fixture.catalog.put(try fixture.makeAdapter("doomed", config: shared),
                                             name: AdapterName(validating: "doomed")).adapter
        let survivor = try fixture.catalog.put(try fixture.makeAdapter("survivor", config: shared)).adapter
        #expect(doomed.configBlob == survivor.configBlob)
        try fixture.catalog.setName(AdapterName(validating: "alias"), to: .digest(doomed.digest))
        let key = try CacheKey(adapter: doomed.digest, rank: 8, options: "method=exact")
        let entry = try fixture.insertCache(key, seed: "doomed-8", config: "{\"r\": 8}")

        let deletion = try fixture.catalog.delete(.name(AdapterName(validating: "doomed")))
        #expect(deletion.adapter.digest == doomed.digest)
        #expect(deletion.adapter.names.map(\.rawValue) == ["alias", "doomed"])
        #expect(deletion.removedCacheEntries.map(\.key) == [key])
        #expect(Set(deletion.removedBlobs) == Set([doomed.weightsBlob, entry.weightsBlob, try #require(entry.configBlob)]))

        #expect(try fixture.catalog.adapter(doomed.digest) == nil)
        #expect(throws: CatalogError.unknownReference("doomed")) { try fixture.catalog.resolve("doomed") }
        #expect(throws: CatalogError.unknownReference("alias")) { try fixture.catalog.resolve("alias") }
        #expect(try fixture.catalog.cacheEntries(for: doomed.digest).isEmpty)
        #expect(try fixture.catalog.cacheCounters().entries == 0)
        #expect(!fixture.blobExists(doomed.weightsBlob))
        #expect(!fixture.blobExists(entry.weightsBlob))
        #expect(fixture.blobExists(try #require(survivor.configBlob)))
        #expect(fixture.blobExists(survivor.weightsBlob))
        #expect(try fixture.catalog.blobs.verify(#require(survivor.configBlob)).isIntact)
        #expect(try fixture.catalog.statistics().blobCount == 2)
        #expect(throws: CatalogError.unknownReference(doomed.digest.hex)) { try fixture.catalog.delete(.digest(doomed.digest)) }
    }

    @Test("concurrent puts of the same adapter create it exactly once")
    func concurrentPuts() async throws {
        let fixture = try CatalogFixture()
        let adapter = try fixture.makeAdapter("race")
        let catalog = fixture.catalog
        let created = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<32 { group.addTask { try catalog.put(adapter).created } }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(created == 1)
        #expect(try catalog.list().total == 1)
    }
}
