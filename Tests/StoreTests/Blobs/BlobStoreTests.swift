import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import Store

func makeBlobStore(_ directory: URL) throws -> BlobStore {
    try BlobStore(root: directory, logger: makeLogger())
}

func inode(_ path: String) throws -> Int {
    try #require(FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int)
}

@Suite("BlobStore: writing, reading, deleting")
struct BlobStoreTests {
    @Test("a committed blob lives at blobs/ab/<62 hex>, read-only, and tmp/ is left empty")
    func layout() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let bytes = Data("abc".utf8)
            let blob = try store.write(bytes)
            #expect(blob.digest.hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            #expect(blob.size == 3)
            let expected = directory.appendingPathComponent("blobs/ba/7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad").path
            #expect(store.path(for: blob.digest) == expected)
            #expect(store.url(for: blob.digest).path == expected)
            #expect(try Data(contentsOf: store.url(for: blob.digest)) == bytes)
            let permissions = try #require(FileManager.default.attributesOfItem(atPath: expected)[.posixPermissions] as? Int)
            #expect(permissions == 0o444)
            #expect(listing(store.temporaryDirectory).isEmpty)
            #expect(try store.contains(blob.digest))
            #expect(try store.size(of: blob.digest) == 3)
            #expect(try store.digests() == [blob.digest])
        }
    }

    @Test("appending in pieces hashes the same as one write; byteCount follows")
    func streamingWriter() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let writer = try store.makeWriter()
            #expect(writer.temporaryPath.hasPrefix(store.temporaryDirectory.path + "/"))
            #expect(FileManager.default.fileExists(atPath: writer.temporaryPath))
            for start in stride(from: 0, to: bytes.count, by: 4093) {
                try writer.append(Array(bytes[start..<min(start + 4093, bytes.count)]))
            }
            #expect(writer.byteCount == 100_000)
            let blob = try writer.commit()
            #expect(blob == StoredBlob(digest: try SHA256.hash(bytes), size: 100_000))
            #expect(!FileManager.default.fileExists(atPath: writer.temporaryPath))
            #expect(try Data(contentsOf: store.url(for: blob.digest)) == Data(bytes))
        }
    }

    @Test("the empty blob is a blob")
    func emptyBlob() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let blob = try store.makeWriter().commit()
            #expect(blob.digest.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            #expect(try store.size(of: blob.digest) == 0)
        }
    }

    @Test("committing content already stored keeps the existing file and drops the temp")
    func neverOverwrites() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let first = try store.write(Data("same".utf8))
            let before = try inode(store.path(for: first.digest))
            let writer = try store.makeWriter()
            try writer.append(Data("same".utf8))
            let second = try writer.commit()
            #expect(second == first)
            #expect(try inode(store.path(for: first.digest)) == before)
            #expect(!FileManager.default.fileExists(atPath: writer.temporaryPath))
            #expect(try store.digests() == [first.digest])
        }
    }

    @Test("abort removes the temp file; a finished writer refuses more work; a dropped writer cleans up")
    func abortAndFinish() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let aborted = try store.makeWriter()
            try aborted.append(Data("partial".utf8))
            aborted.abort()
            aborted.abort()
            #expect(!FileManager.default.fileExists(atPath: aborted.temporaryPath))
            #expect(throws: BlobStoreError.writerFinished(path: aborted.temporaryPath)) { try aborted.append(Data("x".utf8)) }
            #expect(throws: BlobStoreError.writerFinished(path: aborted.temporaryPath)) { try aborted.commit() }

            let committed = try store.makeWriter()
            _ = try committed.commit()
            #expect(throws: BlobStoreError.writerFinished(path: committed.temporaryPath)) { try committed.commit() }
            committed.abort()  // after commit: nothing to do, the blob stays
            #expect(try store.digests().count == 1)

            var dropped: BlobWriter? = try store.makeWriter()
            let path = try #require(dropped?.temporaryPath)
            try dropped?.append(Data("forgotten".utf8))
            dropped = nil
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(listing(store.temporaryDirectory).isEmpty)
            #expect(try store.digests().count == 1)
        }
    }

    @Test("a writer's temp file is close-on-exec: a child process never holds it")
    func writerIsCloseOnExec() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let writer = try store.makeWriter()
            defer { writer.abort() }
            let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { Int32($0) }
            let fd = try #require(descriptors.first {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == writer.temporaryPath
            })
            #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
        }
    }

    @Test("cleanTemporaryFiles removes what a dead process left in tmp/ and nothing else")
    func cleanTemporaryFiles() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let kept = try store.write(Data("committed".utf8))
            for name in ["blob-AAAAAA", "blob-BBBBBB", "http-body-123"] {
                try Data("half written".utf8).write(to: store.temporaryDirectory.appendingPathComponent(name))
            }
            #expect(try store.cleanTemporaryFiles() == 3)
            #expect(listing(store.temporaryDirectory).isEmpty)
            #expect(try store.cleanTemporaryFiles() == 0)
            #expect(try store.digests() == [kept.digest])
        }
    }

    @Test("delete removes the file; deleting again reports false")
    func delete() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let blob = try store.write(Data("gone".utf8))
            #expect(try store.delete(blob.digest))
            #expect(try !store.contains(blob.digest))
            #expect(try store.size(of: blob.digest) == nil)
            #expect(try !store.delete(blob.digest))
        }
    }

    @Test("opening creates nested roots and reopening finds the blobs")
    func reopen() async throws {
        try await withTemporaryDirectory { directory in
            let root = directory.appendingPathComponent("a/b/data")
            let blob = try makeBlobStore(root).write(Data("persist".utf8))
            #expect(try makeBlobStore(root).digests() == [blob.digest])
        }
    }
}
