import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import Store

@Suite("AdapterCatalog: restarts, crashes, migrations, statistics")
struct AdapterCatalogDurabilityTests {
    @Test("reopening the catalog keeps adapters, names, cache entries and jobs")
    func reopen() throws {
        let fixture = try CatalogFixture()
        let record = try fixture.putAdapter("kept", name: "kept")
        let key = try CacheKey(adapter: record.digest, rank: 4, options: "m")
        let entry = try fixture.insertCache(key, seed: "kept-4")
        try fixture.catalog.pin(key)
        let job = try fixture.catalog.createJob(kind: "normalize", request: "{}")
        _ = try fixture.catalog.cacheLookup(key)

        let catalog = try fixture.reopen()
        #expect(try catalog.resolve("kept") == record)
        let cached = try #require(try catalog.cacheEntries(for: record.digest).first)
        #expect(cached.key == key && cached.pinned && cached.hitCount == 1 && cached.weightsBlob == entry.weightsBlob)
        #expect(try catalog.job(job.id)?.state == .queued)
        #expect(try catalog.blobs.verify(record.weightsBlob).isIntact)
        let counters = try catalog.cacheCounters()  // event counters restart; stored totals do not
        #expect(counters.hits == 0 && counters.entries == 1 && counters.bytes == 100)
    }

    /// A crash mid-upload leaves a temp file; a crash between `commit()` and `put` leaves a blob no
    /// row refers to. Start-up removes both, and neither is ever referenced. On PostgreSQL, whose
    /// blob directory replicas share, the orphan blob stays: it may be another replica's, committed
    /// and about to be recorded.
    @Test("crash simulation: leftovers in tmp/ and unreferenced blobs are cleaned at start-up")
    func crashLeftovers() throws {
        let fixture = try CatalogFixture()
        let kept = try fixture.putAdapter("kept")
        let writer = try fixture.catalog.blobs.makeWriter()
        try writer.append(Data("half an upload".utf8))
        let leftover = writer.temporaryPath
        try Data("another dead writer".utf8).write(to: fixture.catalog.blobs.temporaryDirectory.appendingPathComponent("blob-dead01"))
        let orphan = try fixture.catalog.blobs.write(Data("committed, never put".utf8))
        #expect(fixture.tmpListing.count == 2)

        // The "crash": open a second catalog on the same directory, as the next process would.
        let restarted = try fixture.openAnother()
        defer { restarted.close() }
        #expect(fixture.tmpListing.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: leftover))
        let shared = CatalogFixture.onPostgres
        #expect(fixture.blobExists(orphan.digest) == shared)
        #expect(Set(try restarted.blobs.digests())
                == Set([try #require(kept.configBlob), kept.weightsBlob] + (shared ? [orphan.digest] : [])))
        #expect(try restarted.resolve(kept.digest.hex) == kept)
        #expect(try restarted.statistics().blobCount == 2)
        writer.abort()  // the "dead" writer's file is already gone; abort must not mind
    }

    /// The sweep a shared blob directory allows: a file no row refers to goes only once it has gone
    /// uncommitted for the age; committing the same content again (a deduplicated upload on another
    /// replica) makes it young again.
    @Test("removeOrphanBlobs(olderThan:) takes only old unreferenced files; a repeated commit makes one young again")
    func agedOrphans() throws {
        let fixture = try CatalogFixture()
        let kept = try fixture.putAdapter("kept")
        let store = fixture.catalog.blobs
        let old = try store.write(Data("orphan, old".utf8)).digest, again = try store.write(Data("orphan, old, committed again".utf8)).digest
        let young = try store.write(Data("orphan, young".utf8)).digest
        let age = AdapterCatalog.sharedOrphanAge
        for digest in [old, again, kept.weightsBlob] {
            let when = Date().timeIntervalSince1970 - age - 60
            var times = [timespec(tv_sec: Int(when), tv_nsec: 0), timespec(tv_sec: Int(when), tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, store.path(for: digest), &times, 0) == 0)
        }
        // A second process (another replica) does the sweep: this one's unclaimed commits are its own.
        let other = try fixture.openAnother(configuration: .init(removeOrphanBlobsAtOpen: false, cleanTemporaryFilesAtOpen: false))
        defer { other.close() }
        try store.write(Data("orphan, old, committed again".utf8))   // dedup: touches the existing file
        #expect(try other.removeOrphanBlobs(olderThan: age) == [old])
        for digest in [again, young, kept.weightsBlob] { #expect(fixture.blobExists(digest)) }
        #expect(!fixture.blobExists(old))
    }

    @Test("a blob committed for an upload survives the delete of another adapter using it, until put")
    func commitRacingDelete() throws {
        let fixture = try CatalogFixture()
        let original = try fixture.putAdapter("same content")
        // An upload of identical content commits the same blobs (kept, deduplicated) …
        let upload = try fixture.makeAdapter("same content")
        #expect(upload.weightsBlob == original.weightsBlob)
        // … while the adapter that used them is deleted before the upload's put.
        let deletion = try fixture.catalog.delete(.digest(original.digest))
        #expect(deletion.removedBlobs.isEmpty)
        #expect(fixture.blobExists(upload.weightsBlob))
        #expect(try fixture.catalog.put(upload).created)
        // Once recorded, the blobs go with the next delete as usual.
        let again = try fixture.catalog.delete(.digest(upload.digest))
        #expect(Set(again.removedBlobs) == Set([upload.weightsBlob, try #require(upload.configBlob)]))
    }

    @Test("removeOrphanBlobs spares blobs committed by this process and not yet put")
    func orphanSweepSparesPendingUploads() throws {
        let fixture = try CatalogFixture()
        let pending = try fixture.catalog.blobs.write(Data("upload in flight".utf8))
        #expect(try fixture.catalog.removeOrphanBlobs().isEmpty)
        #expect(fixture.blobExists(pending.digest))
        try fixture.catalog.blobs.delete(pending.digest)
        let stranger = try fixture.catalog.blobs.write(Data("left by a dead process".utf8))
        let catalog = try fixture.reopen(configuration: .init(removeOrphanBlobsAtOpen: false))
        #expect(fixture.blobExists(stranger.digest))
        #expect(try catalog.removeOrphanBlobs() == [stranger.digest])
    }

    @Test("a database at user_version 0 is migrated to the current schema")
    func migrationFromZero() throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("catalog.sqlite").path
        do {
            let empty = try SQLiteDatabase(path: path, logger: makeLogger())
            try empty.execute("CREATE TABLE unrelated (x); INSERT INTO unrelated VALUES (1);")
            #expect(try empty.userVersion() == 0)
            empty.close()
        }
        let catalog = try AdapterCatalog(directory: directory, logger: makeLogger())
        defer { catalog.close() }
        #expect(try catalog.schemaVersion() == AdapterCatalog.currentSchemaVersion)
        #expect(AdapterCatalog.currentSchemaVersion >= 1)
        #expect(try catalog.statistics().adapterCount == 0)
        #expect(try catalog.list().items.isEmpty)
    }

    @Test("a catalog written by a newer build is refused")
    func newerSchema() throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("catalog.sqlite").path
        do {
            let future = try SQLiteDatabase(path: path, logger: makeLogger())
            try future.execute("PRAGMA user_version = 99")
            future.close()
        }
        #expect(throws: SQLiteError.schemaTooNew(path: path, found: 99, known: AdapterCatalog.currentSchemaVersion)) {
            try AdapterCatalog(directory: directory, logger: makeLogger())
        }
    }

    @Test("statistics count adapters, distinct blobs, jobs by state and the cache")
    func statistics() throws {
        let fixture = try CatalogFixture()
        let shared = "{\"shared\": true}"
        let a = try fixture.catalog.put(try fixture.makeAdapter("a", config: shared)).adapter
        let b = try fixture.catalog.put(try fixture.makeAdapter("b", config: shared)).adapter
        let key = try CacheKey(adapter: a.digest, rank: 2, options: "")
        try fixture.insertCache(key, seed: "a2", bytes: 50)
        let job = try fixture.catalog.createJob(kind: "normalize", request: "{}")
        try fixture.catalog.updateJob(job.id, JobUpdate(state: .running))
        _ = try fixture.catalog.createJob(kind: "normalize", request: "{}")

        let stats = try fixture.catalog.statistics()
        let configSize = Int64(shared.utf8.count)
        #expect(stats.adapterCount == 2)
        #expect(stats.adapterBytes == a.totalBytes + b.totalBytes)
        #expect(stats.blobCount == 4)  // one shared config, two weights, one cache weights
        #expect(stats.blobBytes == configSize + (a.totalBytes - configSize) + (b.totalBytes - configSize) + 50)
        #expect(stats.jobsByState == [.queued: 1, .running: 1, .succeeded: 0, .failed: 0])
        #expect(stats.cache.entries == 1 && stats.cache.bytes == 50)
    }
}
