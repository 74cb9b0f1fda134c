import Foundation

/// Runs blocking, CPU-heavy work (squeezes, validation, SVDs) on its own threads, never on Swift's
/// cooperative pool: with 2 cores, two blocked cooperative threads would stall every request.
/// At most `width` jobs run at once; the rest wait in the queue without holding a thread.
final class ComputePool: Sendable {
    private let queue: OperationQueue

    init(label: String, width: Int) {
        let q = OperationQueue()
        q.name = label
        q.maxConcurrentOperationCount = max(1, width)
        queue = q
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.addOperation { continuation.resume(with: Result { try body() }) }
        }
    }
}
