import Foundation

/// A value guarded by a lock: the module's one lock, for the small amount of state shared between
/// threads (connection queues, loop threads, handler tasks, the log writer).
///
/// An `NSLock` (a pthread mutex) rather than `Synchronization.Mutex`: on Linux, ThreadSanitizer does
/// not see `Mutex`'s futex-based locking, so every access under it is reported as a race (a
/// four-thread counter under `Mutex` is enough to show it), which would hide the real ones.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
