import Foundation
import Synchronization

/// Runs blocking, CPU-heavy work (squeezes, validation, SVDs) on its own threads, never on Swift's
/// cooperative pool: with 2 cores, two blocked cooperative threads would stall every request.
/// At most `width` jobs run at once; the rest wait in the queue without holding a thread.
///
/// Cancellation reaches the work: a job whose awaiting task is cancelled while it waits in the queue
/// is dropped at once (the caller gets `CancellationError`, the job never runs); one that is already
/// running sees its `CancellationFlag` raised and may stop early.
final class ComputePool: Sendable {
    private let queue: OperationQueue
    private let waiting = Mutex(0)

    init(label: String, width: Int) {
        let q = OperationQueue()
        q.name = label
        q.maxConcurrentOperationCount = max(1, width)
        queue = q
    }

    /// Jobs queued and not yet started.
    var queuedCount: Int { waiting.withLock { $0 } }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await run { _ in try body() }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (CancellationFlag) throws -> T) async throws -> T {
        let job = Job<T>()
        waiting.withLock { $0 += 1 }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                guard job.enqueue(continuation) else {
                    waiting.withLock { $0 -= 1 }
                    return continuation.resume(throwing: CancellationError())
                }
                queue.addOperation { [self] in
                    waiting.withLock { $0 -= 1 }
                    guard let continuation = job.start() else { return }   // cancelled while queued
                    continuation.resume(with: Result { try body(job.flag) })
                }
            }
        } onCancel: {
            job.cancel()
        }
    }

    /// One job's life: queued → running → done, or queued → cancelled (resumed with
    /// `CancellationError` by whoever cancels, and never run).
    private final class Job<T: Sendable>: Sendable {
        private enum State {
            case new
            case queued(CheckedContinuation<T, any Error>)
            case running
            case cancelled
        }
        private let state = Mutex(State.new)
        let flag = CancellationFlag()

        /// False when the job was cancelled before it could be queued.
        func enqueue(_ c: CheckedContinuation<T, any Error>) -> Bool {
            state.withLock { s in
                guard case .new = s else { return false }
                s = .queued(c)
                return true
            }
        }

        /// The continuation to resume once the work is done, or nil when the job was cancelled.
        func start() -> CheckedContinuation<T, any Error>? {
            state.withLock { s in
                guard case let .queued(c) = s else { return nil }
                s = .running
                return c
            }
        }

        func cancel() {
            flag.raise()
            let queued: CheckedContinuation<T, any Error>? = state.withLock { s in
                switch s {
                case .new:
                    s = .cancelled
                    return nil
                case let .queued(c):
                    s = .cancelled
                    return c
                case .running, .cancelled:
                    return nil
                }
            }
            queued?.resume(throwing: CancellationError())
        }
    }
}

/// Raised when the task waiting for a pool job is cancelled; the job polls it.
final class CancellationFlag: Sendable {
    private let raised = Atomic(false)
    func raise() { raised.store(true, ordering: .relaxed) }
    var isRaised: Bool { raised.load(ordering: .relaxed) }
}
