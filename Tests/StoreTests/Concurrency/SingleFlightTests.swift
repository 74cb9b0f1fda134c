import Foundation
import Locking
import Testing
import Store

/// Counts how many times work actually ran.
actor RunCounter {
    private(set) var count = 0
    func increment() -> Int {
        count += 1
        return count
    }
}

struct FlightError: Error, Equatable { let run: Int }

/// Waits (bounded) until `condition` holds.
func eventually(_ condition: @Sendable () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(60)  // only a guard against a hang
    while await !condition() {
        guard ContinuousClock.now < deadline else { throw CancellationError() }
        try await Task.sleep(for: .milliseconds(1))
    }
}

@Suite("SingleFlight")
struct SingleFlightTests {
    @Test("many identical concurrent requests compute once and share the value")
    func computesOnce() async throws {
        let flight = SingleFlight<String, Int>()
        let counter = RunCounter()
        let callers = 50
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    try await flight.run("squeeze:abc@16") {
                        let run = await counter.increment()
                        // Hold the work open until every caller has joined it.
                        try await eventually { flight.waiters(for: "squeeze:abc@16") == callers }
                        return run * 100
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: 100, count: callers))
        #expect(await counter.count == 1)
        #expect(flight.inFlightCount == 0)
        #expect(flight.waiters(for: "squeeze:abc@16") == 0)
    }

    @Test("all waiters get the same error, and the key is free again afterwards")
    func sharesErrorsThenRunsAgain() async throws {
        let flight = SingleFlight<Int, String>()
        let counter = RunCounter()
        let work: @Sendable () async throws -> String = {
            let run = await counter.increment()
            try await eventually { flight.waiters(for: 7) == 10 || run > 1 }
            if run == 1 { throw FlightError(run: run) }
            return "run \(run)"
        }
        let outcomes = await withTaskGroup(of: Result<String, FlightError>.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    do { return .success(try await flight.run(7, work)) } catch let error as FlightError {
                        return .failure(error)
                    } catch { return .failure(FlightError(run: -1)) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == 10)
        #expect(outcomes.allSatisfy { $0 == .failure(FlightError(run: 1)) })
        #expect(try await flight.run(7, work) == "run 2")
        #expect(await counter.count == 2)
    }

    @Test("different keys run independently")
    func independentKeys() async throws {
        let flight = SingleFlight<String, String>()
        let counter = RunCounter()
        // Each work finishes only once both have started: proves they overlap (one key's flight
        // does not wait for the other's).
        async let a = flight.run("a") {
            _ = await counter.increment()
            try await eventually { await counter.count == 2 }
            return "A"
        }
        async let b = flight.run("b") {
            _ = await counter.increment()
            try await eventually { await counter.count == 2 }
            return "B"
        }
        #expect(try await [a, b] == ["A", "B"])
        #expect(await counter.count == 2)
    }
}

@Suite("SingleFlight: cancellation and admission")
struct SingleFlightCancellationTests {
    /// Work that runs until cancelled, then records that it saw the cancellation.
    actor Probe {
        var started = 0
        var cancelled = 0
        func start() { started += 1 }
        func sawCancel() { cancelled += 1 }
    }

    static func endless(_ probe: Probe) -> @Sendable () async throws -> Int {
        {
            await probe.start()
            do {
                while true { try await Task.sleep(for: .milliseconds(2)) }
            } catch {
                await probe.sawCancel()
                throw error
            }
        }
    }

    @Test("one of two waiters leaving stops only its wait; the last one leaving cancels the work")
    func lastWaiterCancels() async throws {
        let flight = SingleFlight<String, Int>()
        let probe = Probe()
        let first = Task { try await flight.run("k", Self.endless(probe)) }
        try await eventually { await probe.started == 1 }
        let second = Task { try await flight.run("k", Self.endless(probe)) }
        try await eventually { flight.waiters(for: "k") == 2 }

        first.cancel()
        await #expect(throws: CancellationError.self) { try await first.value }
        #expect(flight.waiters(for: "k") == 1)
        try await Task.sleep(for: .milliseconds(20))
        #expect(await probe.cancelled == 0, "the work goes on for the waiter left")

        second.cancel()
        await #expect(throws: CancellationError.self) { try await second.value }
        try await eventually { await probe.cancelled == 1 }
        #expect(flight.inFlightCount == 0)
        #expect(await probe.started == 1, "the work ran once")
    }

    @Test("a caller cancelled before it joins neither joins nor starts anything")
    func cancelledBeforeJoining() async throws {
        let flight = SingleFlight<String, Int>()
        let probe = Probe()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await flight.run("k", Self.endless(probe))
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(flight.inFlightCount == 0)
        #expect(await probe.started == 0)
    }

    @Test("admit sees whether the call would start work and how many keys are in flight; a refusal changes nothing")
    func admission() async throws {
        struct Full: Error, Equatable {}
        let flight = SingleFlight<String, Int>()
        let probe = Probe()
        final class Seen: Sendable { let calls = Locked<[(Bool, Int)]>([]) }
        let seen = Seen()
        let a = Task { try await flight.run("a", admit: { s, n in seen.calls.withLock { $0.append((s, n)) } }, Self.endless(probe)) }
        try await eventually { flight.inFlightCount == 1 }
        let b = Task { try await flight.run("a", admit: { s, n in seen.calls.withLock { $0.append((s, n)) } }, Self.endless(probe)) }
        try await eventually { flight.waiters(for: "a") == 2 }
        await #expect(throws: Full()) {
            try await flight.run("b", admit: { starting, inFlight in if starting && inFlight >= 1 { throw Full() } }, Self.endless(probe))
        }
        #expect(flight.inFlightCount == 1 && flight.waiters(for: "b") == 0)
        #expect(seen.calls.withLock { $0.map(\.0) } == [true, false])
        #expect(seen.calls.withLock { $0.map(\.1) } == [0, 1])
        a.cancel()
        b.cancel()
        _ = await (a.result, b.result)
        try await eventually { await probe.cancelled == 1 }
    }
}
