import Foundation

/// A value guarded by a lock: the small amount of mutable state the store's `Sendable` types share
/// between tasks. The body runs synchronously, so nothing can `await` while holding the lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
