import Dispatch
import Locking
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An HTTP/1.1 server on non-blocking sockets, epoll and Dispatch queues. Idle connections cost a
/// file descriptor and a little memory, no thread and no timer (one `DeadlineSweeper` per server
/// enforces every deadline); handlers answer on the connection's queue when they can answer at once,
/// and in tasks otherwise.
///
///     let server = HTTPServer(configuration: .init(address: .loopbackIPv4(port: 0)), handler: router)
///     let address = try server.start()
///     …
///     await server.shutdown(deadline: .seconds(10))
public final class HTTPServer: Sendable {
    public struct Configuration: Sendable {
        /// Where to listen; port 0 picks a free port (see `start()`'s result).
        public var address: SocketAddress
        public var limits: HTTPLimits
        /// listen(2) backlog.
        public var backlog: Int32
        /// When set, this port speaks TLS (HTTPS) with this context's certificate.
        public var tls: TLSContext?

        public init(address: SocketAddress = .loopbackIPv4(port: 8080), limits: HTTPLimits = .default,
                    backlog: Int32 = 1024, tls: TLSContext? = nil) {
            self.address = address
            self.limits = limits
            self.backlog = backlog
            self.tls = tls
        }
    }

    private struct State {
        var listener: Socket?
        var acceptSource: DispatchSourceRead?
        var localAddress: SocketAddress?
        var connections: [UInt64: HTTPConnection] = [:]
        var nextID: UInt64 = 0
        var accepting = false
        /// The accept source is suspended while descriptors are exhausted (see `acceptExhausted`).
        var acceptPaused = false
        var exhaustion = DescriptorExhaustion()
        /// Connections get descriptors below this: RLIMIT_NOFILE less `HTTPLimits.reservedDescriptors`.
        var descriptorCeiling = Int.max
        var sweeper: DeadlineSweeper?
    }

    public let configuration: Configuration
    private let handler: any HTTPHandler
    private let logger: Logger
    private let state = Locked(State())
    private let acceptQueue = DispatchQueue(label: "HTTPServer.accept")

    public init(configuration: Configuration = .init(), handler: some HTTPHandler,
                logger: Logger = Logger(label: "HTTPServer")) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
    }

    /// Binds, listens and starts accepting. Returns the bound address (with the real port).
    @discardableResult
    public func start() throws -> SocketAddress {
        // A peer that resets while we write must not kill the process; send(2) uses MSG_NOSIGNAL,
        // but sendfile(2) has no such flag.
        signal(SIGPIPE, SIG_IGN)
        SpareDescriptor.shared.reserve()
        let ceiling = FileDescriptorLimit.current().soft - configuration.limits.reservedDescriptors
        let listener = try Socket.listen(on: configuration.address, backlog: configuration.backlog)
        let address: SocketAddress
        do { address = try listener.localAddress() } catch { listener.close(); throw error }
        let source = DispatchSource.makeReadSource(fileDescriptor: listener.fd, queue: acceptQueue)
        source.setEventHandler { [self] in acceptPending(listener) }
        source.setCancelHandler { listener.close() }
        state.withLock {
            $0.listener = listener
            $0.acceptSource = source
            $0.localAddress = address
            $0.accepting = true
            $0.descriptorCeiling = ceiling
        }
        let sweeper = DeadlineSweeper(queue: acceptQueue) { [state] visit in
            state.withLock { s in for connection in s.connections.values { visit(connection) } }
        }
        state.withLock { $0.sweeper = sweeper }
        source.resume()
        logger.info("listening", metadata: ["address": "\(address)"])
        return address
    }

    /// The bound address once started.
    public var localAddress: SocketAddress? { state.withLock { $0.localAddress } }

    /// Open client connections.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    private static let overloaded: [UInt8] = {
        let body = #"{"type":"/problems/too-many-connections","title":"Service Unavailable","status":503,"#
            + #""detail":"the server has too many open connections; try again later"}"#
        return Array(("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body).utf8)
    }()

    private func acceptPending(_ listener: Socket) {
        let descriptorCeiling = state.withLock { $0.descriptorCeiling }
        // Bounded per event so one busy listener cannot starve the queue; epoll reports the rest.
        for _ in 0..<256 {
            let accepted: (Socket, SocketAddress?)?
            do {
                accepted = try listener.accept()
            } catch SocketError.systemCall(_, let code) where code == EMFILE || code == ENFILE {
                return acceptExhausted(listener, errno: code)
            } catch {
                logger.warning("accept failed", metadata: ["error": "\(error)"])
                return
            }
            guard let (socket, peer) = accepted else { return }
            // Descriptors are numbered lowest-free first: a connection numbered past the ceiling means
            // fewer than `reservedDescriptors` are left for everything else (files, the catalog, and
            // libdispatch, which on Linux crashes the process when its worker-pool monitor cannot open
            // /proc). Such a connection is refused like one over the connection limit.
            let withinReserve = Int(socket.fd) < descriptorCeiling
            var session: TLSSession?
            if let tls = configuration.tls {
                do { session = try tls.session(fd: socket.fd) } catch {
                    logger.error("cannot start TLS on a connection", metadata: ["error": "\(error)"])
                    socket.close()
                    return
                }
            }
            let connection: HTTPConnection? = state.withLock { s in
                s.exhaustion.succeeded()
                guard s.accepting, withinReserve, s.connections.count < configuration.limits.maxConnections else { return nil }
                s.nextID += 1
                let connection = HTTPConnection(
                    id: s.nextID, socket: socket, remoteAddress: peer, limits: configuration.limits,
                    handler: handler, logger: logger, tls: session,
                    onClose: { [weak self] id in self?.connectionClosed(id) })
                s.connections[s.nextID] = connection
                return connection
            }
            if let connection {
                connection.start()
            } else {
                // Over the connection limit or into the reserve: a best-effort 503 on the fresh socket
                // (plain HTTP only: on a TLS port there is no session to say it in), then close.
                if configuration.tls == nil { Self.overloaded.withUnsafeBytes { _ = socket.write($0) } }
                socket.close()
            }
        }
    }

    /// Out of file descriptors (EMFILE, or ENFILE system-wide) although the reserve should have kept
    /// some: something else holds them. The pending connection stays in the backlog and the listener
    /// stays readable, so returning would spin on epoll. Instead: release the spare descriptor, accept
    /// the head of the backlog with it and answer 503 (so one client learns at once), and stop watching
    /// the listener for a backoff that doubles from 10 ms to 1 s while the exhaustion lasts — with the
    /// spare left released, so one descriptor stays free during the pause. The spare is taken back
    /// before accepting resumes; while it cannot be, the pause goes on. Logged at most once a second,
    /// with the number of events in between.
    private func acceptExhausted(_ listener: Socket, errno code: Int32) {
        let (delay, log, suppressed, source) = state.withLock { s -> (Duration, Bool, Int, DispatchSourceRead?) in
            let (delay, log, suppressed) = s.exhaustion.failed(now: ContinuousClock.now)
            guard s.accepting, !s.acceptPaused, let source = s.acceptSource else { return (delay, log, suppressed, nil) }
            s.acceptPaused = true
            return (delay, log, suppressed, source)
        }
        if log {
            logger.error("out of file descriptors: accepting paused", metadata: [
                "errno": "\(code)", "backoff": "\(delay)", "events-since-last-log": "\(suppressed)",
                "connections": "\(connectionCount)",
            ])
        }
        if SpareDescriptor.shared.release(), let (socket, _) = try? listener.accept() {
            Self.overloaded.withUnsafeBytes { _ = socket.write($0) }
            socket.close()
        }
        guard let source else { return }
        source.suspend()
        resumeAccepting(after: delay)
    }

    /// Resumes the suspended accept source after `delay`, once the spare descriptor is held again.
    private func resumeAccepting(after delay: Duration) {
        let (seconds, attoseconds) = delay.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        acceptQueue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
            guard SpareDescriptor.shared.reserve() else {
                let next = state.withLock { s -> Duration? in
                    guard s.acceptPaused else { return nil }
                    return s.exhaustion.failed(now: ContinuousClock.now).delay
                }
                if let next { resumeAccepting(after: next) }
                return
            }
            let source = state.withLock { s -> DispatchSourceRead? in
                guard s.acceptPaused else { return nil }
                s.acceptPaused = false
                return s.acceptSource
            }
            source?.resume()
        }
    }

    private func connectionClosed(_ id: UInt64) {
        state.withLock { _ = $0.connections.removeValue(forKey: id) }
    }

    /// Graceful shutdown: stops accepting, closes idle connections, lets in-flight requests finish
    /// (their responses carry `Connection: close`), and after `deadline` closes whatever is left.
    public func shutdown(deadline: Duration) async {
        let (source, connections, paused) = state.withLock { s -> (DispatchSourceRead?, [HTTPConnection], Bool) in
            s.accepting = false
            defer { s.acceptSource = nil; s.acceptPaused = false }
            return (s.acceptSource, Array(s.connections.values), s.acceptPaused)
        }
        source?.cancel()
        if paused { source?.resume() }   // a suspended source must be resumed for its cancellation to run
        logger.info("shutting down", metadata: ["connections": "\(connections.count)"])
        for connection in connections { connection.beginShutdown() }

        let clock = ContinuousClock()
        let end = clock.now.advanced(by: deadline)
        while connectionCount > 0, clock.now < end {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let remaining = state.withLock { Array($0.connections.values) }
        if !remaining.isEmpty {
            logger.warning("closing connections still busy at the shutdown deadline", metadata: ["count": "\(remaining.count)"])
        }
        for connection in remaining { connection.forceClose() }
        // Teardown is asynchronous on each connection's queue; wait for it, briefly.
        for _ in 0..<200 where connectionCount > 0 {
            try? await Task.sleep(for: .milliseconds(5))
        }
        state.withLock { s in
            s.sweeper?.cancel()
            s.sweeper = nil
        }
    }
}
