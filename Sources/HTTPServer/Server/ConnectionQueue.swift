import Dispatch
import Locking

/// The serial context of one connection: jobs run one at a time, in the order submitted, and each
/// sees everything the ones before it did — like a serial `DispatchQueue` — but a job submitted
/// while the queue is idle runs at once, on the submitting thread, instead of waiting for a worker
/// thread to be woken for it.
///
/// Why not a `DispatchQueue`: the event-loop thread hands every readiness event to its connection,
/// and a handler task hands every answer back. With a Dispatch queue each hand-off woke a worker
/// thread (a futex wake and a context switch, the largest single cost of a small request); with
/// `sync` instead of `async` the loop thread waited whenever the queue was backlogged — for seconds,
/// once, when the test process's worker threads were all busy elsewhere, stalling every connection
/// of that loop. Here nobody waits: a job submitted while another runs is appended, and the thread
/// running the queue runs it next (so the loop thread may run a job a task submitted, and a task may
/// run the loop's event — either way on a thread that is already awake).
///
/// What a job may do: anything a connection does on its queue — parse, answer at once, write to a
/// non-blocking socket, start a task — and submit more jobs (they run after it, never nested). It
/// must not wait for another job of the same queue. `@unchecked Sendable`: the jobs list is guarded
/// by the mutex; what jobs touch is confined to whichever thread runs the queue at the time, with the
/// mutex's hand-over ordering one job's effects before the next.
final class ConnectionQueue: @unchecked Sendable {
    private struct State {
        var running = false
        var jobs: [@Sendable () -> Void] = []
        var head = 0

        /// With no job left, marks the queue idle and returns true.
        mutating func idleIfEmpty() -> Bool {
            guard head == jobs.count else { return false }
            running = false
            jobs.removeAll(keepingCapacity: jobs.capacity <= 16)
            head = 0
            return true
        }
    }

    /// The most jobs one thread runs for this queue before it hands the rest to a Dispatch worker.
    /// Without a bound, a thread that found the queue idle — a handler task's cooperative thread,
    /// or a loop thread — would keep running it for as long as a busy client kept events coming,
    /// and never go back to its own work.
    static let drainBudget = 64

    private let state = Locked(State())

    /// Runs `job` now on this thread if the queue is idle (then also jobs submitted meanwhile, up to
    /// `drainBudget`), or after the jobs before it, on whichever thread runs the queue.
    func submit(_ job: @escaping @Sendable () -> Void) {
        let runHere = state.withLock { s -> Bool in
            if s.running {
                s.jobs.append(job)
                return false
            }
            s.running = true
            return true
        }
        guard runHere else { return }
        drain(first: job)
    }

    /// Runs `first` (if any) and then queued jobs, in order, until none is left (the queue goes idle)
    /// or the budget is spent (a Dispatch worker carries on; the queue stays running meanwhile, so
    /// no job can overtake the ones waiting).
    private func drain(first: (@Sendable () -> Void)?) {
        var next = first ?? take()
        var ran = 0
        while let current = next {
            current()
            ran += 1
            if ran == Self.drainBudget {
                if !state.withLock({ $0.idleIfEmpty() }) { DispatchQueue.global().async { self.drain(first: nil) } }
                return
            }
            next = take()
        }
    }

    /// The next queued job, or nil (and the queue idle) when there is none.
    private func take() -> (@Sendable () -> Void)? {
        state.withLock { s -> (@Sendable () -> Void)? in
            if s.idleIfEmpty() { return nil }
            let job = s.jobs[s.head]
            s.jobs[s.head] = {}   // release what it captured now
            s.head += 1
            return job
        }
    }
}
