import Dispatch
import Foundation
import Locking
import Synchronization
import Testing
@testable import HTTPServer

/// The connection's serial executor: order, exclusion, running inline when idle, and handing a long
/// backlog to a Dispatch worker instead of keeping the submitting thread.
@Suite("ConnectionQueue")
struct ConnectionQueueTests {
    /// State touched only inside jobs: the queue's confinement is what makes it safe (ThreadSanitizer
    /// checks that claim when the suite runs under it).
    final class Confined: @unchecked Sendable {
        var order: [(submitter: Int, sequence: Int)] = []
        var inside = false
        var overlapped = false
    }

    @Test("jobs from 8 threads run one at a time, each thread's in the order it submitted them")
    func orderAndExclusion() async throws {
        let queue = ConnectionQueue()
        let confined = Confined()
        let done = DispatchSemaphore(value: 0)
        let perThread = 2_000
        for submitter in 0..<8 {
            Thread {
                for sequence in 0..<perThread {
                    queue.submit {
                        if confined.inside { confined.overlapped = true }
                        confined.inside = true
                        confined.order.append((submitter, sequence))
                        confined.inside = false
                    }
                }
                done.signal()
            }.start()
        }
        // Waited for on a thread of its own: a semaphore must not block the cooperative pool.
        try await blocking { for _ in 0..<8 { done.wait() } }
        let all = await queue.result { confined.order }
        #expect(all.count == 8 * perThread)
        #expect(await queue.result { confined.overlapped } == false)
        for submitter in 0..<8 {
            let sequences = all.filter { $0.submitter == submitter }.map(\.sequence)
            #expect(sequences == Array(0..<perThread), "submitter \(submitter)")
        }
    }

    @Test("an idle queue runs the job on the submitting thread, before submit returns")
    func inlineWhenIdle() {
        let queue = ConnectionQueue()
        let ranOn = Locked<pthread_t?>(nil)
        queue.submit { ranOn.withLock { $0 = pthread_self() } }
        let thread = ranOn.withLock { $0 }
        #expect(thread.map { pthread_equal($0, pthread_self()) != 0 } == true)
    }

    @Test("a backlog past drainBudget: the submitting thread runs the budget and returns; a worker runs the rest, in order")
    func budget() async throws {
        let queue = ConnectionQueue()
        let confined = Confined()
        let total = ConnectionQueue.drainBudget * 3 + 5
        let finished = DispatchSemaphore(value: 0)
        let caller = pthread_self()
        // Set while this thread is inside submit: a job that sees it on this thread ran within the
        // call (a Dispatch worker may later be this same thread, after submit returned).
        let insideSubmit = Atomic<Bool>(true)
        let withinCall = Atomic<Int>(0)
        @Sendable func note(_ sequence: Int) {
            if insideSubmit.load(ordering: .sequentiallyConsistent), pthread_equal(pthread_self(), caller) != 0 {
                withinCall.add(1, ordering: .sequentiallyConsistent)
            }
            confined.order.append((0, sequence))
        }
        queue.submit {
            note(0)
            // Queued while this job runs, as a busy client's events would be.
            for sequence in 1..<total {
                queue.submit {
                    note(sequence)
                    if sequence == total - 1 { finished.signal() }
                }
            }
        }
        insideSubmit.store(false, ordering: .sequentiallyConsistent)
        try await blocking { finished.wait() }
        let order = await queue.result { confined.order.map(\.sequence) }
        #expect(order == Array(0..<total))
        #expect(withinCall.load(ordering: .sequentiallyConsistent) == ConnectionQueue.drainBudget)
    }
}

extension ConnectionQueue {
    /// `body`'s value, computed as a job of this queue (after every job submitted before).
    func result<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            submit { continuation.resume(returning: body()) }
        }
    }
}
