import Foundation
import Locking
import Testing
import TestSupport
@testable import Service

/// A full disk answers 507 and leaves nothing behind: refused before the body when Content-Length
/// says it will not fit, while reading when the disk fills up under it, before a squeeze whose output
/// would not fit, and when the file system itself says ENOSPC.
@Suite("Disk space: 507 before it is too late, nothing left behind")
struct DiskSpaceTests {
    /// A disk with a set number of free bytes.
    final class FakeDisk: FreeSpaceProbe {
        let free: Locked<Int64>
        let checks = Locked(0)
        init(free: Int64) { self.free = Locked(free) }
        func freeBytes() throws -> Int64 {
            checks.withLock { $0 += 1 }
            return free.withLock { $0 }
        }
    }

    static func with(disk: FakeDisk, minFree: Int64, _ body: (RunningService) async throws -> Void) async throws {
        try await BadInputTests.withStore({ $0.freeSpace = disk; $0.limits.minFreeDiskBytes = minFree }, body)
    }

    @Test("Content-Length that would leave less than min free disk: 507 before the body is read; exactly enough is accepted")
    func beforeTheBody() async throws {
        let files = try ServiceFixtures.peft(seed: 321)
        let (type, body) = UploadBody.peftMultipart(config: files.config, weights: files.weights)
        let disk = FakeDisk(free: Int64(body.count) + 1000 - 1)
        try await Self.with(disk: disk, minFree: 1000) { s in
            let refused = try await s.upload(contentType: type, body: body)
            try expectProblem(refused, status: 507, detailContains: ["\(body.count) bytes", "min free disk"], "one byte short")
            #expect(refused.header("Connection") == "close", "the unread body ends the connection")
            // With Expect: 100-continue the client is told before it sends a byte: no 100 Continue.
            let expecting = try await s.client.request("POST", "/v1/adapters",
                                                        headers: [("Content-Type", type), ("Expect", "100-continue")], body: body)
            #expect(expecting.status == 507)
        }
        disk.free.withLock { $0 += 1 }
        try await ServiceHarness.with({ $0.freeSpace = disk; $0.limits.minFreeDiskBytes = 1000 }) { s in
            let accepted = try await s.upload(contentType: type, body: body)
            #expect(accepted.status == 201, "exactly enough room: \(accepted.text)")
        }
    }

    @Test("a chunked upload is refused with 507 when the disk fills up while it is read, and its temporary file goes")
    func whileReading() async throws {
        // A body past the check interval, chunked so no length is announced.
        let junk = [UInt8](repeating: 0x41, count: AdapterService.spaceCheckIntervalBytes + 4096)
        let disk = FakeDisk(free: 10 << 30)
        try await Self.with(disk: disk, minFree: 1 << 20) { s in
            disk.free.withLock { $0 = 1 << 19 }   // the disk fills up: the first check mid-body fails
            let refused = try await s.client.request("POST", "/v1/adapters", headers: [("Content-Type", "application/octet-stream")],
                                                     body: junk, chunkSize: 64 << 10)
            try expectProblem(refused, status: 507, detailContains: ["received so far"], "mid-body")
            #expect(disk.checks.withLock { $0 } >= 1)
        }
    }

    @Test("a squeeze whose output would not fit is 507 before it is computed")
    func squeezeOutput() async throws {
        let files = try ServiceFixtures.peft(seed: 322)
        let disk = FakeDisk(free: 10 << 30)
        try await ServiceHarness.with({ $0.freeSpace = disk; $0.limits.minFreeDiskBytes = 1 << 20 }) { s in
            let digest = try await s.uploadPEFT(files).digest
            disk.free.withLock { $0 = (1 << 20) + 10 }   // room for 10 bytes above the reserve
            let refused = try await s.get("/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors")
            try expectProblem(refused, status: 507, detailContains: ["this output needs"], "squeeze")
            let m = try await s.metrics()
            #expect(m.value("lora_squeeze_squeezed_modules_total") == 0 && m.value("lora_squeeze_cache_entries") == 0)
            #expect(s.temporaryFiles().isEmpty)
            disk.free.withLock { $0 = 10 << 30 }
            #expect(try await s.get("/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors").status == 200)
        }
    }

    /// A 3 MiB tmpfs to be the data directory: root can mount one (CI runs as root); elsewhere the
    /// test says why it did not run.
    static let canMount: Bool = {
        guard getuid() == 0 else { return false }
        let probe = AdapterFixture.temporaryDirectory("mount-probe")
        defer { try? FileManager.default.removeItem(at: probe) }
        guard mountTmpfs(at: probe.path, bytes: 1 << 20) else { return false }
        return umount(probe.path) == 0
    }()

    static func mountTmpfs(at path: String, bytes: Int) -> Bool {
        mount("tmpfs", path, "tmpfs", 0, "size=\(bytes)") == 0
    }

    @Test("a real ENOSPC: the upload is 507 insufficient-storage, no temporary file is left, the service goes on",
          .enabled(if: canMount, "needs root to mount a small tmpfs"))
    func realENOSPC() async throws {
        let directory = AdapterFixture.temporaryDirectory("enospc")
        defer { try? FileManager.default.removeItem(at: directory) }
        try #require(Self.mountTmpfs(at: directory.path, bytes: 3 << 20))
        defer { umount2(directory.path, Int32(MNT_DETACH)) }
        // Chunked (no length to check first) and shorter than the mid-body check interval: the write
        // itself meets the full disk.
        var configuration = ServiceHarness.configuration(directory: directory)
        configuration.limits.minFreeDiskBytes = 0
        let s = try await ServiceHarness.start(configuration)
        let big = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }   // 4 MiB on a 3 MiB disk
        let refused = try await s.client.request("POST", "/v1/adapters", headers: [("Content-Type", "application/octet-stream")],
                                                 body: big, chunkSize: 64 << 10)
        try expectProblem(refused, status: 507, detailContains: ["disk is full"], "ENOSPC")
        #expect(s.temporaryFiles().isEmpty, "left \(s.temporaryFiles())")
        // A small upload still works: the service lives and the space came back.
        let small = try ServiceFixtures.peft(seed: 323)
        try await s.uploadPEFT(small)
        #expect(try await s.get("/readyz").status == 200)
        await s.service.stop()
    }
}
