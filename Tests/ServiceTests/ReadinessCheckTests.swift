import Locking
import Testing
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
        #expect(await readiness.failure(now: start + ReadinessCheck.maxAge, check) == "disk is read-only")
        #expect(await readiness.failure(now: start + ReadinessCheck.maxAge + .milliseconds(500), check) == "disk is read-only",
                "a failure stands for a second too")
        #expect(checks.withLock { $0 } == 2)
        fails.withLock { $0 = false }
        #expect(await readiness.failure(now: start + ReadinessCheck.maxAge * 2, check) == nil)
        #expect(checks.withLock { $0 } == 3)
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
