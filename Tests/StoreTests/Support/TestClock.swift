import Foundation

/// A clock tests move by hand, so LRU order and timestamps are exact.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds: Double

    init(start: Double = 1_700_000_000) { seconds = start }

    var now: Date {
        lock.lock()
        defer { lock.unlock() }
        return Date(timeIntervalSince1970: seconds)
    }

    func advance(by delta: Double = 1) {
        lock.lock()
        defer { lock.unlock() }
        seconds += delta
    }

    var function: @Sendable () -> Date { { self.now } }
}
