import Dispatch
import Foundation

/// Runs blocking, CPU-heavy work (squeezes, validation, SVDs) on its own threads, never on Swift's
/// cooperative pool: with 2 cores, two blocked cooperative threads would stall every request.
/// At most `width` jobs run at once; the rest queue in order.
final class ComputePool: Sendable {
    private let queue: DispatchQueue
    private let slots: DispatchSemaphore

    init(label: String, width: Int) {
        queue = DispatchQueue(label: label, attributes: .concurrent)
        slots = DispatchSemaphore(value: max(1, width))
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [slots] in
                slots.wait()
                defer { slots.signal() }
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
