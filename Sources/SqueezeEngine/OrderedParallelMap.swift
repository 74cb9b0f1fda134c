import Foundation

/// Runs `body` over indices 0..<count on up to `workers` threads and hands the results to `consume`
/// in index order, one at a time, as soon as each is ready — so a whole adapter's output is written
/// as it is computed, holding at most `window` results that wait for an earlier one.
///
/// Workers claim indices in order; a worker that would claim an index `window` or more past the next
/// one to consume waits, so memory is bounded by `window` results plus the ones in progress.
/// `consume` runs on whichever worker completed the next index (never two at once). The first error
/// thrown by `body`, `consume` or `shouldStop` stops every worker at its next claim and is rethrown.
enum OrderedParallelMap {
    static func run<Result: Sendable, Failure: Error>(
        count: Int, workers: Int, window: Int,
        shouldStop: @Sendable () throws(Failure) -> Void,
        _ body: @Sendable (Int) throws(Failure) -> Result,
        consume: @Sendable (Int, Result) throws(Failure) -> Void
    ) throws(Failure) {
        guard count > 0 else { return }
        let state = State<Result, Failure>(window: max(1, window))
        let threads = max(1, min(workers, count))
        WorkerThreads.run(count: threads) { _ in
            while let i = state.claim(count: count) {
                do throws(Failure) {
                    try shouldStop()
                    let result = try body(i)
                    try state.complete(i, result, consume: consume)
                } catch {
                    state.fail(error)
                }
            }
        }
        if let error = state.failure { throw error }
    }

    /// The shared bookkeeping. `@unchecked Sendable`: every field is read and written only with
    /// `lock` held. An NSCondition rather than a Mutex: a worker must sleep until the window moves
    /// on, which needs a condition variable (these are blocking worker threads, never Swift's).
    private final class State<Result: Sendable, Failure: Error>: @unchecked Sendable {
        private let lock = NSCondition()
        private let window: Int
        private var next = 0                 // the next index to claim
        private var consumed = 0             // indices 0..<consumed have been consumed
        private var ready: [Int: Result] = [:]
        private var consuming = false        // a worker is inside `consume`
        private(set) var failure: Failure?

        init(window: Int) { self.window = window }

        func claim(count: Int) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            while failure == nil, next < count, next >= consumed + window { lock.wait() }
            guard failure == nil, next < count else { return nil }
            defer { next += 1 }
            return next
        }

        /// Stores `result`; if it is the next to consume and nobody is consuming, consumes it and
        /// every following ready result, outside the lock.
        func complete(_ i: Int, _ result: Result,
                      consume: (Int, Result) throws(Failure) -> Void) throws(Failure) {
            lock.lock()
            ready[i] = result
            guard !consuming, failure == nil else { lock.unlock(); return }
            consuming = true
            while let r = ready.removeValue(forKey: consumed) {
                let index = consumed
                lock.unlock()
                do throws(Failure) {
                    try consume(index, r)
                } catch {
                    lock.lock()
                    consuming = false
                    lock.broadcast()
                    lock.unlock()
                    throw error
                }
                lock.lock()
                consumed += 1
                lock.broadcast()
                if failure != nil { break }
            }
            consuming = false
            lock.unlock()
        }

        func fail(_ error: Failure) {
            lock.lock()
            if failure == nil { failure = error }
            ready.removeAll()
            lock.broadcast()
            lock.unlock()
        }
    }
}
