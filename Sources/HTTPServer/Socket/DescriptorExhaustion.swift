import Locking
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The accept loop's state while file descriptors run out: the backoff before watching the listener
/// again (10 ms, doubling to 1 s, reset by the next successful accept) and the log's rate limit.
struct DescriptorExhaustion: Sendable {
    static let firstDelay: Duration = .milliseconds(10)
    static let maxDelay: Duration = .seconds(1)
    static let logInterval: Duration = .seconds(1)

    private(set) var delay: Duration = .zero
    private var lastLog: ContinuousClock.Instant?
    private var suppressed = 0

    /// One more EMFILE: the pause to take, whether to log now, and how many went unlogged since.
    mutating func failed(now: ContinuousClock.Instant) -> (delay: Duration, log: Bool, suppressed: Int) {
        delay = delay == .zero ? Self.firstDelay : min(delay * 2, Self.maxDelay)
        guard let last = lastLog, now - last < Self.logInterval else {
            lastLog = now
            defer { suppressed = 0 }
            return (delay, true, suppressed)
        }
        suppressed += 1
        return (delay, false, suppressed)
    }

    mutating func succeeded() { delay = .zero }
}

/// One descriptor held open (on /dev/null) so that, when the process has none left, the server can
/// still accept the head of its backlog and refuse it properly (the "spare fd" trick of libuv and
/// others). One per process: every server shares it.
final class SpareDescriptor: Sendable {
    static let shared = SpareDescriptor()
    private let fd = Locked<Int32>(-1)

    init() {}

    /// Opens the spare if it is not held; false when it cannot be (no descriptor is free).
    @discardableResult
    func reserve() -> Bool {
        fd.withLock { fd in
            if fd < 0 { fd = open("/dev/null", O_RDONLY | O_CLOEXEC) }
            return fd >= 0
        }
    }

    /// Closes the spare so its number is free for an accept; false when none was held.
    func release() -> Bool {
        fd.withLock { fd in
            guard fd >= 0 else { return false }
            close(fd)
            fd = -1
            return true
        }
    }
}
