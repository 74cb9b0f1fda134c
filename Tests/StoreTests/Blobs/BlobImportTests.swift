import Foundation
import Testing
import Store

@Suite("BlobStore: importing spooled files")
struct BlobImportTests {
    @Test("a file spooled into tmp/ is hashed and moved in")
    func importFromTemporaryDirectory() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let file = store.temporaryDirectory.appendingPathComponent("http-body-1")
            // More than `BlobStore.readChunkBytes`, so hashing takes more than one read.
            let bytes = Data((0..<1_200_000).map { UInt8(truncatingIfNeeded: $0 / 7) })
            try bytes.write(to: file)
            let spooledInode = try inode(file.path)
            let blob = try store.import(file: file)
            #expect(blob == StoredBlob(digest: try SHA256.hash(bytes), size: Int64(bytes.count)))
            #expect(!FileManager.default.fileExists(atPath: file.path))
            #expect(try inode(store.path(for: blob.digest)) == spooledInode)  // linked, not copied
            #expect(try Data(contentsOf: store.url(for: blob.digest)) == bytes)
        }
    }

    @Test("importing content already stored removes the file and keeps the blob")
    func importDuplicate() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let existing = try store.write(Data("dup".utf8))
            let file = directory.appendingPathComponent("elsewhere")
            try Data("dup".utf8).write(to: file)
            #expect(try store.import(file: file) == existing)
            #expect(!FileManager.default.fileExists(atPath: file.path))
            #expect(try store.digests() == [existing.digest])
        }
    }

    @Test("a symlink or a directory is refused and left in place")
    func refusesNonFiles() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let target = directory.appendingPathComponent("target")
            try Data("secret".utf8).write(to: target)
            let link = directory.appendingPathComponent("link")
            try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
            #expect(throws: BlobStoreError.notRegularFile(path: link.path)) { try store.import(file: link) }
            #expect(FileManager.default.fileExists(atPath: target.path))
            let folder = directory.appendingPathComponent("folder")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
            #expect(throws: BlobStoreError.notRegularFile(path: folder.path)) { try store.import(file: folder) }
            #expect(try store.digests().isEmpty)
        }
    }

    @Test("a missing file is a system error naming it")
    func missingFile() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let file = directory.appendingPathComponent("nope")
            #expect(throws: BlobStoreError.system(operation: "open", path: file.path, errno: ENOENT)) {
                try store.import(file: file)
            }
        }
    }
}
