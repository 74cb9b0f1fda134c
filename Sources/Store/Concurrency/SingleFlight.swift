import Locking

/// Runs identical concurrent requests once: while work for a key is in flight, later callers with
/// the same key wait for it instead of starting their own, and every caller gets the same value or
/// the same error. Once the work finishes, the key is free and the next call runs the work again
/// (so a failure is not cached).
///
/// Cancellation: a caller whose task is cancelled stops waiting at once (it gets
/// `CancellationError`); when the last caller of a flight leaves that way, the work's task is
/// cancelled too, since nobody wants its value any more. The work runs in its own unstructured task,
/// so one caller's cancellation never cancels work the others still wait for.
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Flight {
        let id: UInt64
        var task: Task<Void, Never>?
        var waiters: [UInt64: CheckedContinuation<Value, any Error>]
    }

    private struct State {
        var flights: [Key: Flight] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Locked(State())

    private enum JoinOutcome { case refused(any Error), joined, started(UInt64) }

    public init() {}

    /// The result of `work` for `key`, computed once for all concurrent callers with that key.
    ///
    /// `admit(starting, inFlight)` runs first, under the flight's lock, with `starting` true when this
    /// call would start new work and `inFlight` the number of keys in flight before it; it may throw
    /// to refuse the call (an admission limit), which then neither joins nor starts anything.
    public func run(_ key: Key, admit: (_ starting: Bool, _ inFlight: Int) throws -> Void = { _, _ in },
                    _ work: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let waiter = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let outcome: JoinOutcome = state.withLock { s in
                    if Task.isCancelled { return .refused(CancellationError()) }
                    if var flight = s.flights[key] {
                        do { try admit(false, s.flights.count) } catch { return .refused(error) }
                        flight.waiters[waiter] = continuation
                        s.flights[key] = flight
                        return .joined
                    }
                    do { try admit(true, s.flights.count) } catch { return .refused(error) }
                    s.nextID += 1
                    s.flights[key] = Flight(id: s.nextID, task: nil, waiters: [waiter: continuation])
                    return .started(s.nextID)
                }
                switch outcome {
                case let .refused(error):
                    continuation.resume(throwing: error)
                case .joined:
                    break
                case let .started(id):
                    let task = Task {
                        let result: Result<Value, any Error>
                        do { result = .success(try await work()) } catch { result = .failure(error) }
                        self.finish(key, id, result)
                    }
                    let abandoned = state.withLock { s -> Bool in
                        guard s.flights[key]?.id == id else { return true }   // finished or abandoned already
                        s.flights[key]?.task = task
                        return false
                    }
                    if abandoned { task.cancel() }
                }
            }
        } onCancel: {
            leave(key, waiter)
        }
    }

    /// Hands `result` to every caller still waiting on flight `id`, and frees the key.
    private func finish(_ key: Key, _ id: UInt64, _ result: Result<Value, any Error>) {
        let waiters = state.withLock { s -> [CheckedContinuation<Value, any Error>] in
            guard let flight = s.flights[key], flight.id == id else { return [] }
            s.flights[key] = nil
            return Array(flight.waiters.values)
        }
        for w in waiters { w.resume(with: result) }
    }

    /// A caller was cancelled: it stops waiting; the last one to leave cancels the work.
    private func leave(_ key: Key, _ waiter: UInt64) {
        let (continuation, abandonedTask) = state.withLock { s -> (CheckedContinuation<Value, any Error>?, Task<Void, Never>?) in
            guard var flight = s.flights[key], let c = flight.waiters.removeValue(forKey: waiter) else { return (nil, nil) }
            if flight.waiters.isEmpty {
                s.flights[key] = nil
                return (c, flight.task)
            }
            s.flights[key] = flight
            return (c, nil)
        }
        continuation?.resume(throwing: CancellationError())
        abandonedTask?.cancel()
    }

    /// Keys with work in flight.
    public var inFlightCount: Int { state.withLock { $0.flights.count } }

    /// Callers waiting on `key` (the one that started the work included); 0 when nothing is in flight.
    public func waiters(for key: Key) -> Int { state.withLock { $0.flights[key]?.waiters.count ?? 0 } }
}
