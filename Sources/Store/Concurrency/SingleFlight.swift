/// Runs identical concurrent requests once: while work for a key is in flight, later callers with
/// the same key wait for it instead of starting their own, and every caller gets the same value or
/// the same error. Once the work finishes, the key is free and the next call runs the work again
/// (so a failure is not cached).
///
/// The work runs in its own unstructured task, so a caller that is cancelled stops waiting only
/// when the work ends, and its cancellation does not cancel the work the other callers wait for.
public actor SingleFlight<Key: Hashable & Sendable, Value: Sendable> {
    private struct Flight {
        let task: Task<Value, any Error>
        var waiters: Int
    }

    private var flights: [Key: Flight] = [:]

    public init() {}

    /// The result of `work` for `key`, computed once for all concurrent callers with that key.
    public func run(_ key: Key, _ work: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if flights[key] != nil {
            flights[key]!.waiters += 1
            return try await flights[key]!.task.value
        }
        let task = Task { try await work() }
        flights[key] = Flight(task: task, waiters: 1)
        defer { flights[key] = nil }
        return try await task.value
    }

    /// Keys with work in flight.
    public var inFlightCount: Int { flights.count }

    /// Callers waiting on `key` (the one that started the work included); 0 when nothing is in flight.
    public func waiters(for key: Key) -> Int { flights[key]?.waiters ?? 0 }
}
