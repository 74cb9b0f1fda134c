import Foundation
import Testing
import Store

@Suite("BlobStore: verify and scrub")
struct BlobVerifyTests {
    @Test("verify reports intact, corrupt (with the actual digest) and missing blobs")
    func verify() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let blob = try store.write(Data("hello".utf8))
            #expect(try store.verify(blob.digest) == .intact(size: 5))
            try flipByte(in: store.url(for: blob.digest))
            let damaged = try Data(contentsOf: store.url(for: blob.digest))
            #expect(try store.verify(blob.digest) == .corrupt(actual: try SHA256.hash(damaged), size: 5))
            let absent = try SHA256.hash(Data("never written".utf8))
            #expect(try store.verify(absent) == .missing)
        }
    }

    @Test("scrub returns exactly the corrupt blobs and reports stray files")
    func scrub() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let blobs = try (0..<5).map { try store.write(Data("blob \($0)".utf8)) }
            try flipByte(in: store.url(for: blobs[1].digest), at: 2)
            try flipByte(in: store.url(for: blobs[3].digest))
            let stray = store.blobsDirectory.appendingPathComponent("README")
            try Data("not a blob".utf8).write(to: stray)
            let report = try store.scrub()
            #expect(report.checked == 5)
            #expect(report.bytes == blobs.reduce(0) { $0 + $1.size })
            #expect(Set(report.corrupt.map(\.digest)) == [blobs[1].digest, blobs[3].digest])
            #expect(report.corrupt.allSatisfy { $0.actual != $0.digest })
            #expect(report.strayFiles == [stray.path])
        }
    }

    @Test("committing the content of a blob found corrupt replaces the damaged file")
    func healsCorruptBlob() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let content = Data("precious".utf8)
            let blob = try store.write(content)
            try flipByte(in: store.url(for: blob.digest))
            #expect(try !store.verify(blob.digest).isIntact)
            #expect(try store.write(content) == blob)
            #expect(try store.verify(blob.digest) == .intact(size: Int64(content.count)))
            #expect(try Data(contentsOf: store.url(for: blob.digest)) == content)
        }
    }

    @Test("a blob whose size changed is replaced on commit even before any verify")
    func healsTruncatedBlob() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let content = Data("0123456789".utf8)
            let blob = try store.write(content)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: store.path(for: blob.digest))
            try Data("0123".utf8).write(to: store.url(for: blob.digest))
            #expect(try store.write(content) == blob)
            #expect(try Data(contentsOf: store.url(for: blob.digest)) == content)
        }
    }

    @Test("verifyIfCold hashes the first read only; verify always rehashes")
    func coldReads() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeBlobStore(directory)
            let blob = try store.write(Data("warm".utf8))
            #expect(try store.verifyIfCold(blob.digest) == .intact(size: 4))
            try flipByte(in: store.url(for: blob.digest))
            #expect(try store.verifyIfCold(blob.digest) == .intact(size: 4))  // trusted once verified
            #expect(try !store.verify(blob.digest).isIntact)
            #expect(try !store.verifyIfCold(blob.digest).isIntact)  // a corrupt blob is never trusted
            _ = try store.delete(blob.digest)
            #expect(try store.verifyIfCold(blob.digest) == .missing)
        }
    }
}
