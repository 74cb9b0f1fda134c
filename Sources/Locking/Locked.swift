import Foundation

/// A value guarded by a lock: the project's one lock, for the small amounts of state its `Sendable`
/// types share between threads and tasks. The body runs synchronously, so nothing can `await` while
/// holding the lock.
///
/// An `NSLock` (a pthread mutex) rather than `Synchronization.Mutex`: on Linux ThreadSanitizer does
/// not see `Mutex`'s futex-based locking, so every access under a `Mutex` is reported as a race (a
/// four-thread counter under one is enough to show it), which would bury the real ones. Condition
/// variables (`NSCondition`) are a different tool and stay where a thread must wait.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
