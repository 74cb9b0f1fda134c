#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Locking
import Synchronization

/// Runs blocking work — squeezes, validation, SVDs (the compute pool); fsyncs and file reads (the I/O
/// pool) — on threads of its own, `width` of them, never on Swift's cooperative pool or libdispatch's
/// worker threads. That matters on Linux, where an `OperationQueue` or `concurrentPerform` borrows
/// the same few libdispatch workers that run every connection's I/O and every handler: a squeeze on
/// them for seconds stalls `/healthz` and every download (seen under the flood benchmark). Jobs wait
/// in a FIFO queue without holding a thread.
///
/// Cancellation reaches the work: a job whose awaiting task is cancelled while it waits in the queue
/// is dropped at once (the caller gets `CancellationError`, the job never runs); one that is already
/// running sees its `CancellationFlag` raised and may stop early.
///
/// `@unchecked Sendable`: `queue`, `head` and `closed` are read and written only with `condition`
/// locked. An NSCondition rather than a Mutex, because idle threads must sleep until a job arrives,
/// which needs a condition variable.
final class ComputePool: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    private var closed = false
    /// Jobs taken by a thread and not finished.
    private var running = 0
    let label: String
    let width: Int
    /// The threads' nice value (Linux: per thread, inherited by the threads they start).
    let niceness: Int32

    static let labelKey = "lora-squeeze.ComputePool"

    /// The label of the pool whose thread is running this code, or nil off every pool.
    static var currentLabel: String? { Thread.current.threadDictionary[labelKey] as? String }

    /// Stack for each thread: LAPACK's drivers keep their work arrays on the heap; this is headroom.
    static let stackBytes = 4 << 20

    /// `niceness` above 0 lowers the threads' priority (the compute pool runs at 19: see
    /// `AdapterService.computeNiceness`), so on a busy machine the threads that serve requests get a
    /// core first.
    init(label: String, width: Int, niceness: Int32 = 0) {
        self.label = label
        self.width = max(1, width)
        self.niceness = niceness
        for i in 0..<self.width {
            let name = "\(label).\(i)"
            let thread = Thread { [self] in
                // Named from inside: on Linux a name set before start() is lost, and the thread would
                // carry its creator's (often a libdispatch worker's) name into every stack dump.
                Thread.current.name = name
                // Foundation does not always apply that name on Linux (the thread then keeps its
                // creator's); the pool's label is also kept where code on the thread can read it.
                Thread.current.threadDictionary[Self.labelKey] = label
                if niceness != 0 { Self.renice(niceness) }
                work()
            }
            thread.stackSize = Self.stackBytes
            thread.start()
        }
    }

    /// Sets the calling thread's nice value; a failure leaves it as it was. On Linux nice is per
    /// thread, and `setpriority(PRIO_PROCESS, 0, …)` changes the calling thread only (setpriority(2)).
    static func renice(_ value: Int32) {
        #if os(Linux)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, value)
        #endif
    }

    /// The calling thread's nice value.
    static func niceness() -> Int32 {
        #if os(Linux)
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        #else
        return 0
        #endif
    }

    /// Jobs queued and not yet started (cancelled ones included until a thread reaches them).
    var queuedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - head
    }

    /// Lets the threads finish the queued jobs and exit; jobs submitted afterwards are cancelled.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while head == queue.count && !closed { condition.wait() }
            if head == queue.count {
                condition.unlock()
                return   // closed and drained
            }
            let job = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            running += 1
            condition.unlock()
            job()
            condition.lock()
            running -= 1
            condition.unlock()
        }
    }

    /// True when no job is queued or running.
    var isIdle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return head == queue.count && running == 0
    }

    /// Waits (polling every 10 ms, without blocking a thread) until the pool is idle or `deadline`
    /// passes; shutdown uses it so the catalog is not closed under a job that still writes.
    func waitIdle(until deadline: ContinuousClock.Instant) async {
        while !isIdle, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Queues `job`; false when the pool is closed.
    private func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        queue.append(job)
        condition.signal()
        return true
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await run { _ in try body() }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (CancellationFlag) throws -> T) async throws -> T {
        let job = Job<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                guard job.enqueue(continuation) else { return continuation.resume(throwing: CancellationError()) }
                let submitted = submit {
                    guard let continuation = job.start() else { return }   // cancelled while queued
                    continuation.resume(with: Result { try body(job.flag) })
                }
                if !submitted { job.cancel() }   // closed: resumed with CancellationError
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
        private let state = Locked(State.new)
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
