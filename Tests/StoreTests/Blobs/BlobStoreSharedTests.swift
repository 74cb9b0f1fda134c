import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Locking
import Testing
import Store

/// A blob directory several replicas share (`--blobs` with a PostgreSQL catalog): each has its own
/// `tmp/<replica>/`, and installing a blob is a `link(2)` that never clobbers.
@Suite("BlobStore: a blob directory shared by replicas")
struct BlobStoreSharedTests {
    @Test("each replica writes in tmp/<replica>/ and cleans only its own at start-up")
    func ownTemporaryDirectories() async throws {
        try await withTemporaryDirectory { directory in
            let one = try BlobStore(root: directory, replica: "r1", logger: makeLogger())
            let two = try BlobStore(root: directory, replica: "r2", logger: makeLogger())
            #expect(one.temporaryDirectory.path == directory.appendingPathComponent("tmp/r1").standardizedFileURL.path)
            #expect(one.blobsDirectory == two.blobsDirectory)
            let live = try two.makeWriter()   // r2's upload in progress
            try live.append(Data("half".utf8))
            #expect(live.temporaryPath.hasPrefix(two.temporaryDirectory.path + "/"))
            let dead = try one.makeWriter()
            try dead.append(Data("left by a crash".utf8))
            // r1 restarts: its leftover goes, r2's live file stays.
            let restarted = try BlobStore(root: directory, replica: "r1", logger: makeLogger())
            #expect(try restarted.cleanTemporaryFiles() == 1)
            #expect(!FileManager.default.fileExists(atPath: dead.temporaryPath))
            #expect(FileManager.default.fileExists(atPath: live.temporaryPath))
            try live.append(Data(" and the rest".utf8))
            let blob = try live.commit()
            #expect(try Data(contentsOf: restarted.url(for: blob.digest)) == Data("half and the rest".utf8))
        }
    }

    /// A file unwritten for longer than the age (an upload's file is written as its bytes arrive)
    /// belongs to a replica that died mid-upload; just short of the age it stays.
    @Test("another replica's file unwritten for a second past abandonedTemporaryFileAge is removed; half a second short of it stays; one's own never")
    func abandonedFiles() async throws {
        try await withTemporaryDirectory { directory in
            let age = BlobStore.abandonedTemporaryFileAge
            let mine = try BlobStore(root: directory, replica: "alive", logger: makeLogger())
            let gone = try BlobStore(root: directory, replica: "dead-pod", logger: makeLogger())
            let old = try gone.makeWriter(), boundary = try gone.makeWriter(), fresh = try gone.makeWriter(), own = try mine.makeWriter()
            let now = Date()
            func setWritten(_ path: String, secondsAgo: Double) throws {
                let when = now.timeIntervalSince1970 - secondsAgo
                var times = [timespec(tv_sec: Int(when), tv_nsec: Int((when - floor(when)) * 1e9)),
                             timespec(tv_sec: Int(when), tv_nsec: Int((when - floor(when)) * 1e9))]
                #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
            }
            try setWritten(old.temporaryPath, secondsAgo: age + 1)
            try setWritten(boundary.temporaryPath, secondsAgo: age - 0.5)
            try setWritten(fresh.temporaryPath, secondsAgo: 5)
            try setWritten(own.temporaryPath, secondsAgo: age * 10)
            #expect(try mine.cleanAbandonedTemporaryFiles(now: now) == 1)
            #expect(!FileManager.default.fileExists(atPath: old.temporaryPath))
            for kept in [boundary, fresh, own] { #expect(FileManager.default.fileExists(atPath: kept.temporaryPath)) }
            #expect(FileManager.default.fileExists(atPath: gone.temporaryDirectory.path), "directories stay")
            // A store that is not on shared storage (no replica) has no other replicas to look at.
            #expect(try BlobStore(root: directory, logger: makeLogger()).cleanAbandonedTemporaryFiles(now: now.addingTimeInterval(age * 100)) == 0)
            for writer in [boundary, fresh, own] { writer.abort() }
            old.abort()   // its file is already gone; abort must not mind
        }
    }

    /// Two replicas committing the same content at the same instant: one link(2) wins, the other
    /// finds the file there (EEXIST) and treats it as its own; both see one intact blob.
    @Test("the same content committed by two replicas at once gives one intact blob, every time")
    func concurrentInstall() async throws {
        try await withTemporaryDirectory { directory in
            let stores = try ["r1", "r2"].map { try BlobStore(root: directory, replica: $0, logger: makeLogger()) }
            for round in 0..<50 {
                let content = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ round) })
                let results = Locked([Result<StoredBlob, BlobStoreError>]())
                DispatchQueue.concurrentPerform(iterations: 2) { index in
                    let outcome = Result { () throws(BlobStoreError) in try stores[index].write(content) }
                    results.withLock { $0.append(outcome) }
                }
                let blobs = try results.withLock { $0 }.map { try $0.get() }
                #expect(blobs.count == 2 && blobs[0].digest == blobs[1].digest)
                #expect(try Data(contentsOf: stores[0].url(for: blobs[0].digest)) == content)
            }
            #expect(try stores[0].digests().count == 50)
            for store in stores { #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryDirectory.path).isEmpty) }
        }
    }

    @Test("replica names are checked where the catalog opens: 1 and 63 characters accepted, 0, 64, / and .. refused")
    func replicaNames() throws {
        try AdapterCatalog.validateReplica("a")
        try AdapterCatalog.validateReplica(String(repeating: "x", count: 63))
        try AdapterCatalog.validateReplica("lora-squeeze-7d9f8-abc12.zone_1")
        for bad in ["", String(repeating: "x", count: 64), "a/b", "..", ".", "é", "a b"] {
            #expect(throws: CatalogError.self, "\(bad)") { try AdapterCatalog.validateReplica(bad) }
        }
    }
}
