import CEpoll
import Dispatch
import Foundation
import Locking
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Readiness of connection sockets, from epoll(7) — one instance and one thread per loop, one loop per
/// core — handled on each connection's `ConnectionQueue`, instead of libdispatch's read and write
/// sources.
///
/// The loop thread runs the handlers itself when the connection's queue is idle (and hands the event
/// to the thread running it otherwise, without waiting). So a request costs no hand-off to a worker
/// thread and back — that wake-up was the largest single cost of a small request — and, as in
/// nginx's workers, each loop thread reads, parses, answers at once (see
/// `HTTPHandler.respondImmediately`) and writes. Work that may take long never runs there: handlers
/// that suspend run in tasks, and one flush writes at most `HTTPConnection.flushBudgetBytes` before
/// yielding to the loop's other sockets.
///
/// Why not Dispatch sources: on Linux, libdispatch multiplexes every source of a descriptor through
/// one "muxnote", and a hang-up (the peer's RST, or its FIN after our shutdown) makes its manager
/// thread delete the sources from inside its own event merge. Under connection churn that races with
/// the connection cancelling the same sources: the process died with "Source finalized twice" (once
/// in 500 crash-test cycles) and with a use-after-free in `_dispatch_event_loop_drain` (within 150 s
/// of 12 clients opening, resetting and half-closing connections). The same race is reported against
/// swift-corelibs-libdispatch (issues 833, 949). A client decides when it resets, so this is not a
/// crash a server can leave to chance.
///
/// How: each registration is identified by a fresh 64-bit token (never reused, unlike descriptor
/// numbers), armed with `EPOLLONESHOT`. An event is looked up by token and handed to the owner's queue;
/// there the handlers run and the registration is re-armed with the interest it has then (so a
/// readable socket fires again, level-triggered in effect). `cancel()` removes the descriptor from
/// epoll and the token from the table before the caller closes the descriptor: an event already taken
/// from epoll for that token finds nothing, or finds the registration cancelled, and is dropped.
final class EventLoop: @unchecked Sendable {
    /// The process's loops, one per core (`loopCount`), started on first use (like libdispatch's
    /// manager thread); creating them fails only when the process is out of descriptors or memory,
    /// and then every `register` says so.
    private static let created = Result { () throws(SocketError) -> [EventLoop] in
        try (0..<loopCount).map { index throws(SocketError) in try EventLoop(index: index) }
    }
    static let loopCount = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 64))
    private static let turn = Atomic<Int>(0)

    /// The loop for a new registration: each in turn, so connections spread over the cores.
    static var next: EventLoop {
        get throws(SocketError) {
            let loops = try created.get()
            return loops[turn.add(1, ordering: .relaxed).oldValue % loops.count]
        }
    }

    /// Events taken per epoll_wait.
    static let batch = 256

    private let epoll: Int32
    private let registrations = Locked<[UInt64: EventRegistration]>([:])
    private let nextToken = Atomic<UInt64>(1)

    private init(index: Int) throws(SocketError) {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw SocketError.systemCall("epoll_create1", errno: errno) }
        let thread = Thread { [self] in
            Thread.current.name = "HTTPServer.epoll.\(index)"
            run()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Watches `fd` for `owner`'s queue. Nothing fires until `setInterest` asks for something.
    func register(fd: Int32, queue: ConnectionQueue, onReadable: @escaping () -> Void,
                  onWritable: @escaping () -> Void) throws -> EventRegistration {
        let token = nextToken.add(1, ordering: .relaxed).oldValue
        let registration = EventRegistration(loop: self, fd: fd, token: token, queue: queue,
                                             onReadable: onReadable, onWritable: onWritable)
        registrations.withLock { $0[token] = registration }
        var event = epoll_event(events: EPOLLONESHOT.rawValue, data: epoll_data_t(u64: token))
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
            let code = errno
            registrations.withLock { $0[token] = nil }
            throw SocketError.systemCall("epoll_ctl ADD", errno: code)
        }
        return registration
    }

    fileprivate func arm(_ registration: EventRegistration, events: UInt32) {
        var event = epoll_event(events: events | EPOLLONESHOT.rawValue, data: epoll_data_t(u64: registration.token))
        // ENOENT/EBADF only if it was cancelled, which the caller checks first.
        _ = epoll_ctl(epoll, EPOLL_CTL_MOD, registration.fd, &event)
    }

    fileprivate func remove(_ registration: EventRegistration) {
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, registration.fd, nil)
        registrations.withLock { $0[registration.token] = nil }
    }

    /// Registrations alive (for tests).
    var count: Int { registrations.withLock { $0.count } }

    private func run() {
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Self.batch)
        defer { events.deallocate() }
        while true {
            let n = epoll_wait(epoll, events, Int32(Self.batch), -1)
            if n < 0 {
                if errno == EINTR { continue }
                // EBADF, EFAULT or EINVAL: the descriptor and buffer are this loop's own, never input,
                // so this is a bug in the loop itself; a server whose connections can no longer hear
                // their sockets must not go on pretending to serve.
                fatalError("epoll_wait failed: \(String(cString: strerror(errno)))")
            }
            for i in 0..<Int(n) {
                let token = events[i].data.u64
                let flags = events[i].events
                guard let registration = registrations.withLock({ $0[token] }) else { continue }
                registration.queue.submit { registration.deliver(flags) }   // here when idle: see above
            }
        }
    }
}

/// One socket's registration with the `EventLoop`. Everything but the constants is touched only on
/// `queue`, the owner's serial queue (which is what `@unchecked Sendable` promises).
final class EventRegistration: @unchecked Sendable {
    let fd: Int32
    let token: UInt64
    let queue: ConnectionQueue
    private unowned let loop: EventLoop
    private let onReadable: () -> Void
    private let onWritable: () -> Void
    private var wantsRead = false
    private var wantsWrite = false
    /// The events epoll has armed (0 once one fired: `EPOLLONESHOT`).
    private var armed: UInt32 = 0
    private var delivering = false
    private(set) var isCancelled = false

    fileprivate init(loop: EventLoop, fd: Int32, token: UInt64, queue: ConnectionQueue,
                     onReadable: @escaping () -> Void, onWritable: @escaping () -> Void) {
        self.loop = loop
        self.fd = fd
        self.token = token
        self.queue = queue
        self.onReadable = onReadable
        self.onWritable = onWritable
    }

    /// What the owner wants to hear about from now on (in a job of `queue`).
    func setInterest(read: Bool, write: Bool) {
        wantsRead = read
        wantsWrite = write
        if !delivering { rearm() }
    }

    var interest: (read: Bool, write: Bool) { (wantsRead, wantsWrite) }

    /// Stops all events (in a job of `queue`); afterwards the owner may close the descriptor. Idempotent.
    func cancel() {
        guard !isCancelled else { return }
        isCancelled = true
        loop.remove(self)
    }

    /// An event epoll reported (in a job of `queue`).
    fileprivate func deliver(_ flags: UInt32) {
        guard !isCancelled else { return }
        armed = 0   // EPOLLONESHOT: disarmed until re-armed
        delivering = true
        let failure = flags & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0
        if wantsRead, failure || flags & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 { onReadable() }
        if !isCancelled, wantsWrite, failure || flags & EPOLLOUT.rawValue != 0 { onWritable() }
        delivering = false
        if !isCancelled { rearm() }
    }

    private func rearm() {
        guard !isCancelled else { return }
        var wanted: UInt32 = 0
        if wantsRead { wanted |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
        if wantsWrite { wanted |= EPOLLOUT.rawValue }
        // Nothing wanted: leave it disarmed (a hang-up is then heard when interest returns, as a
        // suspended Dispatch source would); re-arming with no events would still report hang-ups.
        guard wanted != armed else { return }
        if wanted == 0 {
            loop.arm(self, events: 0)   // disarm: ONESHOT with no events reports at most one hang-up
            armed = 0
            return
        }
        loop.arm(self, events: wanted)
        armed = wanted
    }
}
