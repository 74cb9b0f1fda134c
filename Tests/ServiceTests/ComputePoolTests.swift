import Dispatch
import Foundation
import Locking
import Testing
@testable import Service

/// The pools that keep blocking work off Swift's and libdispatch's threads.
@Suite("ComputePool: its own threads, FIFO, cancellable")
struct ComputePoolTests {
    /// Shared counters for jobs on pool threads.
    final class Counter: Sendable {
        let running = Locked((now: 0, most: 0))
        let ran = Locked(0)
        let sawFlag = Locked(false)
    }

    @Test("jobs run on the pool's own threads, at most `width` at once")
    func ownThreads() async throws {
        let pool = ComputePool(label: "test.pool", width: 2)
        defer { pool.close() }
        let counter = Counter()
        let names = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await pool.run {
                        counter.running.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                        Thread.sleep(forTimeInterval: 0.01)
                        counter.running.withLock { $0.now -= 1 }
                        return ComputePool.currentLabel ?? "(not a pool thread)"
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(names.allSatisfy { $0 == "test.pool" }, "\(names)")
        #expect(ComputePool.currentLabel == nil, "the test's own thread is no pool's")
        #expect(counter.running.withLock { $0.most } == 2)
    }

    @Test("a queued job whose caller is cancelled never runs; a running one sees its flag")
    func cancellation() async throws {
        let pool = ComputePool(label: "test.cancel", width: 1)
        defer { pool.close() }
        let gate = DispatchSemaphore(value: 0)
        let counter = Counter()
        // Each step waits for what it needs to have happened (a job running, a job queued), never for
        // a fixed time: on a loaded machine (CI runs ~600 tests at once) a job may start late. A fixed
        // 20 ms once let the "running" job still be queued when its caller was cancelled, and it was
        // then skipped, as queued ones are.
        let blockerRunning = Locked(false)
        let blocker = Task { try await pool.run { blockerRunning.withLock { $0 = true }; gate.wait() } }
        while !blockerRunning.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
        let queued = Task { try await pool.run { counter.ran.withLock { $0 += 1 } } }
        while pool.queuedCount == 0 { try await Task.sleep(for: .milliseconds(1)) }
        queued.cancel()
        await #expect(throws: CancellationError.self) { try await queued.value }
        gate.signal()
        try await blocker.value
        // Drained: the cancelled job was skipped.
        try await pool.run { }
        #expect(counter.ran.withLock { $0 } == 0)

        let started = Locked(false)
        let running = Task {
            try await pool.run { (flag: CancellationFlag) in
                started.withLock { $0 = true }
                while !flag.isRaised { Thread.sleep(forTimeInterval: 0.001) }
                counter.sawFlag.withLock { $0 = true }
            }
        }
        while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
        running.cancel()
        try await running.value   // the job ended once it saw the flag
        #expect(counter.sawFlag.withLock { $0 })
    }

    @Test("a niced pool's threads, and the workers they start, run at that nice value; others are untouched")
    func niceness() async throws {
        let base = ComputePool.niceness()   // the test process's own (raising it needs no privilege)
        let pool = ComputePool(label: "test.nice", width: 1, niceness: 10)
        defer { pool.close() }
        let inside = try await pool.run { ComputePool.niceness() }
        #expect(inside == max(10, base))
        let plain = ComputePool(label: "test.plain", width: 1)
        defer { plain.close() }
        #expect(try await plain.run { ComputePool.niceness() } == base)
    }

    @Test("after close, queued jobs finish and new ones are cancelled")
    func close() async throws {
        let pool = ComputePool(label: "test.close", width: 1)
        #expect(try await pool.run { 42 } == 42)
        pool.close()
        await #expect(throws: CancellationError.self) { try await pool.run { 1 } }
    }
}
