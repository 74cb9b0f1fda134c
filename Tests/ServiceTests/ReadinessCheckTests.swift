import Foundation
import Locking
import Testing
import Store
import TestSupport
@testable import Service

@Suite("readyz's write check: at most once a second, however many probes")
struct ReadinessCheckTests {
    struct Refused: Error, CustomStringConvertible { var description: String { "disk is read-only" } }

    @Test("probes within maxAge share one check and its result; the next one checks again")
    func cached() async throws {
        let readiness = ReadinessCheck()
        let checks = Locked(0)
        let start = ContinuousClock.now
        let fails = Locked(false)
        let check: () async throws -> Void = {
            checks.withLock { $0 += 1 }
            if fails.withLock({ $0 }) { throw Refused() }
        }
        #expect(await readiness.failure(now: start, check) == nil)
        for offset in [0, 100, 999] as [Int64] {
            #expect(await readiness.failure(now: start + .milliseconds(offset), check) == nil)
        }
        #expect(checks.withLock { $0 } == 1)
        fails.withLock { $0 = true }
        #expect(await readiness.failure(now: start + ReadinessCheck.maxAge, check)?.cause == "disk is read-only")
        #expect(await readiness.failure(now: start + ReadinessCheck.maxAge + .milliseconds(500), check)?.cause == "disk is read-only",
                "a failure stands for a second too")
        #expect(checks.withLock { $0 } == 2)
        fails.withLock { $0 = false }
        #expect(await readiness.failure(now: start + ReadinessCheck.maxAge * 2, check) == nil)
        #expect(checks.withLock { $0 } == 3)
    }
}

@Suite("readyz's answer when not ready")
struct ReadinessFailureTests {
    struct Hidden: Error, CustomStringConvertible {
        var description: String { "open /srv/secret/path: connection to db.internal:5432 refused for user lora" }
    }

    @Test("the answer names the part that refused; the error itself, with its paths and hosts, is only the cause")
    func detailHidesTheCause() {
        for (error, detail) in [(WriteCheckFailure(part: .catalog, underlying: Hidden()) as any Error,
                                 "the catalog does not take writes (the server's log says why)"),
                                (WriteCheckFailure(part: .blobStore, underlying: Hidden()),
                                 "the blob store does not take writes (the server's log says why)"),
                                (Hidden(), "the catalog is unavailable (the server's log says why)")] {
            let failure = ReadinessCheck.Failure(error)
            #expect(failure.detail == detail)
            #expect(!failure.detail.contains("/srv") && !failure.detail.contains("db.internal"))
            #expect(failure.cause.contains("/srv/secret/path"))
        }
    }

    @Test("a blob store that cannot make a temp file: 503 naming it, without the data directory's path; 200 once it can")
    func overHTTP() async throws {
        try await ServiceHarness.with { s in
            #expect(try await s.get("/readyz").status == 200)
            let tmp = s.directory.appendingPathComponent("tmp")
            try FileManager.default.removeItem(at: tmp)
            try Data().write(to: tmp)   // mkstemp in a file fails, even for root
            try await Task.sleep(for: ReadinessCheck.maxAge + .milliseconds(50))
            let refused = try await s.get("/readyz")
            #expect(refused.status == 503)
            #expect(refused.text.contains("the blob store does not take writes"), "\(refused.text)")
            #expect(!refused.text.contains(s.directory.path), "the data directory's path leaked: \(refused.text)")
            try FileManager.default.removeItem(at: tmp)
            try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: false)
            try await Task.sleep(for: ReadinessCheck.maxAge + .milliseconds(50))
            #expect(try await s.get("/readyz").status == 200)
        }
    }
}

@Suite("The background scrub's pace")
struct ScrubPacerTests {
    @Test("reads are held to the rate: 4 MiB at 4 MiB/s take at least a second (a lower bound, not a timing target)")
    func rate() async throws {
        // It sleeps: on a thread of its own, as the scrub does on an I/O thread.
        let elapsed = try await HTTPTestClient.onThread {
            let pacer = ScrubPacer(bytesPerSecond: 4 << 20)
            let start = ContinuousClock.now
            for _ in 0..<4 { pacer.pace(1 << 20) }
            return ContinuousClock.now - start
        }
        #expect(elapsed >= .milliseconds(990))
    }
}
