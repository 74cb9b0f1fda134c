import Foundation
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
                        try await eventually { await flight.waiters(for: "squeeze:abc@16") == callers }
                        return run * 100
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: 100, count: callers))
        #expect(await counter.count == 1)
        #expect(await flight.inFlightCount == 0)
        #expect(await flight.waiters(for: "squeeze:abc@16") == 0)
    }

    @Test("all waiters get the same error, and the key is free again afterwards")
    func sharesErrorsThenRunsAgain() async throws {
        let flight = SingleFlight<Int, String>()
        let counter = RunCounter()
        let work: @Sendable () async throws -> String = {
            let run = await counter.increment()
            try await eventually { await flight.waiters(for: 7) == 10 || run > 1 }
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
        async let a = flight.run("a") {
            _ = await counter.increment()
            // "a" can only finish once "b" is in flight too: proves they overlap.
            try await eventually { await flight.inFlightCount == 2 }
            return "A"
        }
        async let b = flight.run("b") {
            _ = await counter.increment()
            try await eventually { await flight.inFlightCount == 2 }
            return "B"
        }
        #expect(try await [a, b] == ["A", "B"])
        #expect(await counter.count == 2)
    }
}
