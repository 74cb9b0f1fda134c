import Foundation

/// Runs `body` over indices on up to `workers` threads, largest jobs first (longest-processing-time
/// order balances modules of very different sizes), stopping early once one job throws.
enum ParallelMap {
    static func run<Result: Sendable, Failure: Error>(
        count: Int, workers: Int, cost: (Int) -> Double,
        _ body: @Sendable (Int) throws(Failure) -> Result
    ) throws(Failure) -> [Result] {
        let order = (0..<count).sorted { cost($0) > cost($1) }
        let state = SharedState<Result, Failure>(count: count)
        let threads = max(1, min(workers, count))
        WorkerThreads.run(count: threads) { _ in
            while let i = state.claim(from: order) {
                do throws(Failure) {
                    state.store(try body(i), at: i)
                } catch {
                    state.fail(error)
                }
            }
        }
        if let e = state.failure { throw e }
        return state.results.map { $0! }
    }

    private final class SharedState<Result: Sendable, Failure: Error>: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private(set) var results: [Result?]
        private(set) var failure: Failure?

        init(count: Int) { results = Array(repeating: nil, count: count) }

        func claim(from order: [Int]) -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard failure == nil, next < order.count else { return nil }
            defer { next += 1 }
            return order[next]
        }

        func store(_ r: Result, at i: Int) {
            lock.lock(); results[i] = r; lock.unlock()
        }

        func fail(_ e: Failure) {
            lock.lock(); if failure == nil { failure = e }; lock.unlock()
        }
    }
}
