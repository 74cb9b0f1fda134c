import Foundation

/// Fork-join on threads of its own: `body(0)` runs on the calling thread and `body(1)…body(n-1)` on
/// new threads, and `run` returns when all have. Not `DispatchQueue.concurrentPerform`: on Linux that
/// borrows libdispatch's worker threads, the same few that run a server's sockets and Swift tasks, and
/// a squeeze keeping them busy for seconds would starve every request. A thread costs tens of
/// microseconds to start, nothing beside a squeeze.
enum WorkerThreads {
    /// Stack for each worker: LAPACK's drivers keep their work arrays on the heap; this is headroom.
    static let stackBytes = 4 << 20

    static func run(count: Int, _ body: @Sendable (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        // `body` does not outlive `run`: every thread has finished with it before `run` returns, and
        // the threads reach it through `slot`, emptied before `withoutActuallyEscaping` checks that
        // nothing kept it (a Thread object may release its block only after its thread exits).
        withoutActuallyEscaping(body) { body in
            let slot = Slot(body)
            let done = DispatchSemaphore(value: 0)
            for i in 1..<count {
                let thread = Thread {
                    Thread.current.name = "lora-squeeze.worker"   // from inside: see ComputePool
                    slot.body?(i)
                    done.signal()
                }
                thread.stackSize = stackBytes
                thread.start()
            }
            body(0)
            for _ in 1..<count { done.wait() }
            slot.body = nil
        }
    }

    /// `@unchecked Sendable`: `body` is read by the worker threads and set to nil only after every
    /// one has signalled it is done (the semaphore orders the write after the reads).
    private final class Slot: @unchecked Sendable {
        var body: (@Sendable (Int) -> Void)?
        init(_ body: @escaping @Sendable (Int) -> Void) { self.body = body }
    }
}
