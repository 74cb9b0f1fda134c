import Foundation
import Locking

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

    private final class SharedState<Result: Sendable, Failure: Error>: Sendable {
        private struct Progress {
            var next = 0
            var results: [Result?]
            var failure: Failure?
        }
        private let progress: Locked<Progress>

        init(count: Int) { progress = Locked(Progress(results: Array(repeating: nil, count: count))) }

        var results: [Result?] { progress.withLock { $0.results } }
        var failure: Failure? { progress.withLock { $0.failure } }

        func claim(from order: [Int]) -> Int? {
            progress.withLock { p in
                guard p.failure == nil, p.next < order.count else { return nil }
                defer { p.next += 1 }
                return order[p.next]
            }
        }

        func store(_ r: Result, at i: Int) { progress.withLock { $0.results[i] = r } }

        func fail(_ e: Failure) { progress.withLock { if $0.failure == nil { $0.failure = e } } }
    }
}
