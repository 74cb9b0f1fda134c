import Dispatch
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import HTTPServer

/// The epoll readiness loop that replaced Dispatch read/write sources for connections.
@Suite("EventLoop: readiness from epoll, delivered on the owner's queue")
struct EventLoopTests {
    /// A connected pair of non-blocking stream sockets.
    static func pair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw SocketError.systemCall("socketpair", errno: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return (fds[0], fds[1])
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var reads = 0
        private var writes = 0
        func read() { lock.withLock { reads += 1 } }
        func write() { lock.withLock { writes += 1 } }
        var counts: (reads: Int, writes: Int) { lock.withLock { (reads, writes) } }
    }

    static func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(2_000)
        }
        return condition()
    }

    @Test("read interest: an event while wanted (again while data stays unread), none while not, one when wanted again")
    func readInterest() async throws {
        try await blocking {
            let (a, b) = try Self.pair()
            defer { close(b) }
            let queue = ConnectionQueue()
            let counter = Counter()
            let registration = try EventLoop.next.register(fd: a, queue: queue, onReadable: { counter.read() }, onWritable: { counter.write() })
            queue.sync { registration.setInterest(read: true, write: false) }
            _ = write(b, "x", 1)
            #expect(Self.eventually { counter.counts.reads >= 2 }, "level-triggered: unread data fires again after each re-arm")
            queue.sync { registration.setInterest(read: false, write: false) }
            usleep(50_000)
            let paused = counter.counts.reads
            usleep(100_000)
            #expect(counter.counts.reads == paused, "no event while reads are not wanted")
            queue.sync { registration.setInterest(read: true, write: true) }
            #expect(Self.eventually { counter.counts.reads > paused && counter.counts.writes > 0 })
            queue.sync { registration.cancel() }
            close(a)
        }
    }

    @Test("after cancel no event reaches the old owner, though the next socket gets the same descriptor number")
    func cancelledNeverFires() async throws {
        try await blocking {
            let (a, b) = try Self.pair()
            let queue = ConnectionQueue()
            let old = Counter()
            let registration = try EventLoop.next.register(fd: a, queue: queue, onReadable: { old.read() }, onWritable: { old.write() })
            queue.sync {
                registration.setInterest(read: true, write: true)
                registration.cancel()
            }
            close(a)
            close(b)
            let (c, d) = try Self.pair()   // typically reuses a's and b's numbers
            defer { close(c); close(d) }
            let fresh = Counter()
            let next = try EventLoop.next.register(fd: c, queue: queue, onReadable: { fresh.read() }, onWritable: { fresh.write() })
            queue.sync { next.setInterest(read: true, write: false) }
            _ = write(d, "y", 1)
            #expect(Self.eventually { fresh.counts.reads > 0 })
            queue.sync { next.cancel() }
            usleep(50_000)
            #expect(old.counts.reads == 0 && old.counts.writes == 0, "the cancelled registration heard nothing")
            #expect(queue.sync { registration.isCancelled && next.isCancelled })
        }
    }

    @Test("a hang-up reaches a reader; with nothing wanted it waits until interest returns")
    func hangUp() async throws {
        try await blocking {
            let (a, b) = try Self.pair()
            let queue = ConnectionQueue()
            let counter = Counter()
            let registration = try EventLoop.next.register(fd: a, queue: queue, onReadable: { counter.read() }, onWritable: { counter.write() })
            close(b)   // the peer is gone before anyone listens
            usleep(50_000)
            #expect(counter.counts.reads == 0, "nothing wanted, nothing delivered")
            queue.sync { registration.setInterest(read: true, write: false) }
            #expect(Self.eventually { counter.counts.reads > 0 })
            queue.sync { registration.cancel() }
            close(a)
        }
    }
}

extension ConnectionQueue {
    /// Runs `body` as a job of this queue and waits for it (tests only: from a plain thread).
    func sync<T>(_ body: @escaping @Sendable () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: T?
        submit {
            result = body()
            done.signal()
        }
        done.wait()
        return result!
    }
}
