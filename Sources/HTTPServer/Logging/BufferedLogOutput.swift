import Dispatch
import Locking
#if canImport(Glibc)
import Glibc
#endif

/// Where log lines go when one line per request must not cost a write(2) each: lines collect in
/// memory and are written together once `flushBytes` have gathered, `flushInterval` after the first
/// of them, when a line at `BufferedLogHandler.urgentLevel` or above arrives, and at exit — nginx's
/// `access_log … buffer=64k flush=100ms`. Lines are written whole and in order.
///
/// The writes happen on the output's own queue, never on the thread that logs (an event-loop thread
/// must not wait on a slow log pipe); only an urgent line, and the flush at exit, write on the
/// caller's thread. While the descriptor does not take what is written (a reader that stopped),
/// memory is bounded by `maxPendingBytes`: lines past it are dropped and counted, and the count is
/// written in their place once the output moves again. A process that crashes loses at most the
/// last `flushInterval` of lines below the urgent level.
public final class BufferedLogOutput: TextOutputStream, Sendable {
    /// Bytes gathered before they are written at once.
    public static let flushBytes = 64 * 1024
    /// The longest a line waits in memory.
    public static let flushInterval: Duration = .milliseconds(100)
    /// The most held in memory while the descriptor is not writable.
    public static let maxPendingBytes = 16 * flushBytes

    /// The process's standard error, flushed at exit.
    public static let standardError: BufferedLogOutput = {
        let output = BufferedLogOutput(fileDescriptor: STDERR_FILENO)
        atexit { BufferedLogOutput.standardError.flush() }
        return output
    }()

    private struct Pending {
        var bytes: [UInt8] = []
        var timerScheduled = false
        var flushQueued = false
        var dropped = 0
    }

    private let fd: Int32
    private let interval: Duration
    private let pending = Locked(Pending())
    /// Serializes writes to the descriptor, so batches reach it in the order they were taken; it
    /// counts the batches. (Not `Locked<Void>`: ThreadSanitizer tracks the access to an empty value
    /// at the object's own address and reported a race with the lock's holder.)
    private let writing = Locked(0)
    private let queue = DispatchQueue(label: "BufferedLogOutput.flush")

    /// Writes to `fileDescriptor`, which stays the caller's (it is never closed here).
    /// `interval` is for tests; the service uses `flushInterval`.
    public init(fileDescriptor: Int32, interval: Duration = flushInterval) {
        fd = fileDescriptor
        self.interval = interval
    }

    /// Bytes waiting to be written.
    var pendingBytes: Int { pending.withLock { $0.bytes.count } }

    /// Appends `string` (a whole line: `BufferedLogHandler` passes one per call).
    public func write(_ string: String) {
        enum Next { case nothing, flushNow, flushLater }
        let next = pending.withLock { p -> Next in
            guard p.bytes.count < Self.maxPendingBytes else {
                p.dropped += 1
                return .nothing
            }
            p.bytes.append(contentsOf: string.utf8)
            if p.bytes.count >= Self.flushBytes {
                guard !p.flushQueued else { return .nothing }
                p.flushQueued = true
                return .flushNow
            }
            guard !p.timerScheduled else { return .nothing }
            p.timerScheduled = true
            return .flushLater
        }
        switch next {
        case .nothing: break
        case .flushNow: queue.async { [self] in flush() }
        case .flushLater:
            queue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: interval.saturatingNanoseconds))) { [self] in flush() }
        }
    }

    /// Writes everything gathered so far, now, on this thread.
    public func flush() {
        writing.withLock { batches in
            batches &+= 1
            let (bytes, dropped) = pending.withLock { p -> ([UInt8], Int) in
                defer { p = Pending() }
                return (p.bytes, p.dropped)
            }
            writeAll(bytes)
            if dropped > 0 {
                writeAll(Array("BufferedLogOutput: \(dropped) log lines dropped here: the log output did not take them\n".utf8))
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, base + offset, raw.count - offset)
                if n < 0, errno == EINTR { continue }
                // A log that cannot be written (a closed pipe, a full disk) is dropped: the service
                // must not stop serving because its log is gone.
                guard n > 0 else { return }
                offset += n
            }
        }
    }
}
