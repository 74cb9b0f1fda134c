import Dispatch
import Logging
import Synchronization

/// One client connection: reads bytes when the `EventLoop` says the socket is readable, drives an
/// `HTTPRequestParser`, answers on its own queue when the handler can answer at once (see
/// `HTTPHandler.respondImmediately`) and otherwise runs the handler in a task, and writes responses in
/// request order. Its deadlines are swept by the server's `DeadlineSweeper`, not timed one by one.
///
/// Concurrency: every stored property below is touched only by jobs of `queue` (a `ConnectionQueue`:
/// serial, run by whichever thread submitted to it while idle); the event loop, the deadline sweeper,
/// handler tasks and body readers reach the connection only through `queue.submit`. That confinement
/// is what the `@unchecked Sendable` promises.
final class HTTPConnection: @unchecked Sendable {
    let id: UInt64
    let socket: Socket
    let queue = ConnectionQueue()
    let limits: HTTPLimits
    let handler: any HTTPHandler
    let logger: Logger
    let remoteAddress: SocketAddress?
    private let onClose: @Sendable (UInt64) -> Void

    var parser: HTTPRequestParser
    /// TLS over the socket on a TLS port (see HTTPConnection+TLS.swift); nil for plain HTTP, and
    /// dropped when the first byte shows a plain-HTTP client there.
    var tls: TLSSession?
    /// The first byte was a TLS handshake record (checked before OpenSSL sees anything).
    var tlsRecordSeen = false
    /// Readiness of the socket (epoll, not Dispatch sources: see `EventLoop`).
    private var registration: EventRegistration?
    private var readWanted = false
    private var writeWanted = false

    enum Phase { case open, lingering, closed }
    var phase: Phase = .open
    var output = OutputQueue()
    /// Where response heads are encoded, kept between responses (see `sendHeadBuffer`).
    var headBuffer: [UInt8] = []
    var exchange: Exchange?
    private var exchangeCount: UInt64 = 0
    var requestsServed = 0
    var shuttingDown = false
    var peerClosed = false
    /// Set when an error response was queued with no exchange: close once it is written.
    var closeWhenDrained = false

    // Deadlines in DispatchTime uptime nanoseconds; see HTTPConnection+Deadlines.swift.
    var headerDeadline: UInt64?
    var idleDeadline: UInt64?
    var bodyDeadline: UInt64?
    var handlerDeadline: UInt64?
    var sendDeadline: UInt64?
    var lingerDeadline: UInt64?
    /// The earliest of the deadlines above (`UInt64.max` for none), published for the sweeper,
    /// which reads it from its own queue.
    let nextDeadline = Atomic<UInt64>(.max)
    /// `process()` is running: a call from inside it (a response written at once, whose drain
    /// starts the next request) asks it to go round again instead of recursing.
    private var processing = false
    private var processAgain = false

    /// One request and its response.
    final class Exchange {
        let number: UInt64
        let head: HTTPRequestHead
        let requestID: String
        let body: BodyChannel?
        var bodyComplete: Bool
        var bodyBlocked = false
        var continueSent = false
        var task: Task<Void, Never>?
        var responseStarted = false
        var closeAfterResponse = false
        var streamRunning = false
        var streamFraming: ResponseEncoder.Framing = .none
        var streamLength: Int?
        var streamWritten = 0
        var writerWaiter: CheckedContinuation<Void, any Error>?
        /// The handler's answer on the fast path, sent once the request's end is parsed.
        var immediateResponse: HTTPResponse?
        /// While the handler works on a complete request, the socket is watched for the client going
        /// away; set once the next pipelined request's bytes show up instead (they wait unread).
        var pipelinedBytesWaiting = false

        init(number: UInt64, head: HTTPRequestHead, requestID: String, body: BodyChannel?) {
            self.number = number
            self.head = head
            self.requestID = requestID
            self.body = body
            self.bodyComplete = false
        }
    }

    init(id: UInt64, socket: Socket, remoteAddress: SocketAddress?, limits: HTTPLimits, handler: any HTTPHandler,
         logger: Logger, tls: TLSSession? = nil, onClose: @escaping @Sendable (UInt64) -> Void) {
        self.id = id
        self.tls = tls
        self.socket = socket
        self.remoteAddress = remoteAddress
        self.limits = limits
        self.handler = handler
        self.logger = logger
        self.onClose = onClose
        self.parser = HTTPRequestParser(limits: limits)
    }

    /// Starts reading; the first request head must arrive within `headerTimeout` of now.
    func start() {
        queue.submit { [self] in
            do {
                registration = try EventLoop.next.register(fd: socket.fd, queue: queue,
                                                             onReadable: { [self] in onReadable() },
                                                             onWritable: { [self] in flush() })
            } catch {
                logger.error("cannot watch a connection: \(error)", metadata: ["connection": "\(id)"])
                socket.close()
                phase = .closed
                onClose(id)
                return
            }
            headerDeadline = deadline(after: limits.headerTimeout)
            readWanted = true
            registration?.setInterest(read: true, write: false)
            publishDeadline()
        }
    }

    // MARK: Reading

    func onReadable() {
        guard phase != .closed else { return }
        if phase == .open, let tls, !tls.handshakeDone { return advanceHandshake() }
        if phase == .open, let exchange, isWatchingForClose(exchange) { return watchForClose(exchange) }
        let result = withUnsafeTemporaryAllocation(byteCount: 32 * 1024, alignment: 16) { buffer -> IOResult in
            let result = tls?.read(into: buffer) ?? socket.read(into: buffer)
            if case .bytes(let n) = result, phase == .open {
                parser.append(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            }
            return result
        }
        switch result {
        case .bytes:
            if phase == .lingering { return }  // discarded: the response is out, we wait for the peer's FIN
            if let exchange, !exchange.bodyComplete { bodyDeadline = deadline(after: limits.bodyIdleTimeout) }
            process()
            readBufferedTLS()
        case .wouldBlock:
            if tls?.wantsWrite == true { armWrite(true) }
            return
        case .endOfFile:
            peerClosed = true
            if phase == .lingering { return teardown() }
            updateReading()  // a socket at EOF stays readable: stop watching it
            handleEndOfInput()
        case .failed(let code):
            logger.debug("read failed", metadata: ["errno": "\(code)", "connection": "\(id)"])
            teardown()
        }
    }

    /// The peer ended its side. Between requests that ends the connection; inside a request it is an
    /// incomplete message (RFC 9112 §8), answered with 400 unless a response has begun.
    private func handleEndOfInput() {
        if let exchange {
            if exchange.bodyComplete { return }  // the response is still due; it is sent, then we close
            do { try parser.finish() } catch { return failFraming(error) }
        } else if !output.isEmpty || closeWhenDrained {
            return
        } else {
            do { try parser.finish() } catch { return failFraming(error) }
            teardown()
        }
    }

    /// Drives the parser over buffered bytes, one request at a time: after a request's end, parsing
    /// stops until its response is written, so pipelined requests are answered in order.
    func process() {
        if processing {
            processAgain = true
            return
        }
        processing = true
        repeat {
            processAgain = false
            processOnce()
        } while processAgain && phase != .closed
        processing = false
    }

    private func processOnce() {
        while phase == .open, !closeWhenDrained {
            if let exchange, exchange.bodyComplete || exchange.bodyBlocked { break }
            if exchange == nil, shuttingDown { break }
            let event: HTTPParserEvent?
            do {
                event = try parser.next()
            } catch {
                return failFraming(error)
            }
            guard let event else { break }
            switch event {
            case .head(let head):
                begin(head)
            case .body(let chunk):
                guard let exchange else { break }
                if exchange.body?.push(chunk) == false { exchange.bodyBlocked = true }
            case .end:
                guard let exchange else { break }
                exchange.bodyComplete = true
                exchange.body?.finish()
                bodyDeadline = nil
                if let response = exchange.immediateResponse {
                    exchange.immediateResponse = nil
                    respond(response, number: exchange.number)
                }
            }
        }
        if phase == .open, exchange == nil, !parser.isAtMessageBoundary, headerDeadline == nil {
            // RFC 9112 §9.5 / nginx client_header_timeout: the whole head must arrive within the limit,
            // counted from its first byte, however slowly the bytes trickle in.
            idleDeadline = nil
            headerDeadline = deadline(after: limits.headerTimeout)
        }
        if let exchange, exchange.bodyBlocked { bodyDeadline = nil }  // we stopped reading, not the client
        updateReading()
        publishDeadline()
    }

    /// Starts an exchange for a parsed head: asks the handler for an immediate answer (requests
    /// without a body only: a body would have to be read or skipped first), and otherwise runs it in
    /// a task.
    private func begin(_ head: HTTPRequestHead) {
        requestsServed += 1
        exchangeCount += 1
        headerDeadline = nil
        idleDeadline = nil
        let number = exchangeCount
        let requestID = RequestID.resolve(head.headers["X-Request-Id"])
        let channel: BodyChannel? = head.hasBody
            ? BodyChannel { [weak self] first in
                guard let self else { return }
                queue.submit { self.bodyDemanded(number: number, first: first) }
            }
            : nil
        let exchange = Exchange(number: number, head: head, requestID: requestID, body: channel)
        self.exchange = exchange
        if head.hasBody { bodyDeadline = deadline(after: limits.bodyIdleTimeout) }

        var request = HTTPRequest(head: head,
                                  body: HTTPRequestBody(channel: channel, expectedLength: head.contentLength),
                                  requestID: requestID, remoteAddress: remoteAddress)
        request.isSecure = tls != nil
        let handler = self.handler, logger = self.logger
        if !head.hasBody {
            do {
                exchange.immediateResponse = try handler.respondImmediately(to: request)
            } catch {
                exchange.immediateResponse = HTTPResponse.forError(error, request: request, logger: logger)
            }
            if exchange.immediateResponse != nil { return }
        }
        handlerDeadline = deadline(after: limits.handlerTimeout)
        exchange.task = Task { [self] in
            let response: HTTPResponse
            do {
                response = try await handler.handle(request)
            } catch {
                response = HTTPResponse.forError(error, request: request, logger: logger)
            }
            queue.submit { self.respond(response, number: number) }
        }
    }

    /// The handler started or resumed reading the body.
    private func bodyDemanded(number: UInt64, first: Bool) {
        guard phase == .open, let exchange, exchange.number == number else { return }
        // RFC 9110 §10.1.1: send 100 (Continue) once the handler wants the body, unless a final
        // response has started or the body already arrived.
        if first, exchange.head.expectsContinue, !exchange.continueSent, !exchange.responseStarted,
           !exchange.bodyComplete {
            exchange.continueSent = true
            output.append(ResponseEncoder.continueResponse)
            flush()
        }
        if exchange.bodyBlocked {
            exchange.bodyBlocked = false
            bodyDeadline = deadline(after: limits.bodyIdleTimeout)
            process()
        }
    }

    /// A framing error: answer its status with `Connection: close` unless a response has begun (then
    /// abort), and never parse what follows (RFC 9112 §6.3).
    func failFraming(_ error: HTTPParseError) {
        logger.debug("rejected request", metadata: ["status": "\(error.status.code)", "reason": "\(error)",
                                                    "connection": "\(id)"])
        sendErrorAndClose(HTTPError(error))
    }

    /// Answers `error` (if no response has begun), then closes the connection.
    func sendErrorAndClose(_ error: HTTPError) {
        guard phase == .open else { return }
        logger.debug("answering with an error and closing", metadata: [
            "status": "\(error.status.code)", "type": "\(error.type)", "connection": "\(id)",
            "response-started": "\(exchange?.responseStarted ?? false)",
        ])
        let requestID: String
        if let exchange {
            exchange.body?.fail(error)
            exchange.task?.cancel()
            exchange.writerWaiter?.resume(throwing: error)
            exchange.writerWaiter = nil
            if exchange.responseStarted { return teardown() }
            requestID = exchange.requestID
            self.exchange = nil
        } else {
            requestID = RequestID.generate()
        }
        headerDeadline = nil
        idleDeadline = nil
        bodyDeadline = nil
        handlerDeadline = nil
        let response = HTTPResponse.problem(error, requestID: requestID)
        let framing = ResponseEncoder.framing(for: response, requestVersion: .http1_1)
        var bytes = ResponseEncoder.head(for: response, framing: framing, close: true, keepAliveHTTP10: false,
                                         requestID: requestID)
        if case .bytes(let body) = response.body { bytes += body }
        closeWhenDrained = true
        output.append(bytes)
        updateReading()
        flush()
    }

    /// A complete request whose handler has not answered yet, with nothing of a next request read:
    /// the socket is watched (not read) so that a client that goes away cancels the handler, as nginx
    /// answers a client that closes early with 499 and stops the work behind it.
    private func isWatchingForClose(_ exchange: Exchange) -> Bool {
        exchange.bodyComplete && !exchange.responseStarted && !exchange.pipelinedBytesWaiting
            && !peerClosed && !closeWhenDrained && parser.bufferedByteCount == 0
    }

    /// The socket became readable while the handler works: the peer closed (cancel the handler and
    /// close: nobody will read the answer), or the next pipelined request arrived (stop watching; it
    /// waits in the socket until this response is out, as before).
    private func watchForClose(_ exchange: Exchange) {
        switch tls?.peek() ?? socket.peek() {
        case .wouldBlock:
            return
        case .bytes:
            exchange.pipelinedBytesWaiting = true
            updateReading()
        case .endOfFile, .failed:
            peerClosed = true
            logger.debug("client closed the connection before the response; cancelling the handler",
                         metadata: ["request-id": "\(exchange.requestID)", "connection": "\(id)"])
            teardown()
        }
    }

    /// Reads are wanted while lingering (to discard), and while open unless the current request is
    /// complete and waiting for its response (then the socket is only watched for the client going
    /// away), or its body reader is behind.
    func updateReading() {
        guard let registration, phase != .closed else { return }
        var wanted = !peerClosed
        if phase == .open {
            if closeWhenDrained { wanted = false }
            if let exchange, exchange.bodyComplete || exchange.bodyBlocked { wanted = isWatchingForClose(exchange) }
        }
        if wanted != readWanted {
            readWanted = wanted
            registration.setInterest(read: readWanted, write: writeWanted)
        }
        readBufferedTLS()
    }

    func armWrite(_ armed: Bool) {
        guard let registration, phase != .closed, armed != writeWanted else { return }
        writeWanted = armed
        registration.setInterest(read: readWanted, write: writeWanted)
    }

    // MARK: Closing

    /// After the last response: stop sending (FIN), then read and discard what the client still sends
    /// for up to `lingerTimeout`, so it reads our response instead of a TCP reset (nginx lingering_close).
    func beginClosing() {
        guard phase == .open else { return }
        if peerClosed { return teardown() }
        phase = .lingering
        tls?.shutdown()
        socket.shutdownWrite()
        headerDeadline = nil
        idleDeadline = nil
        bodyDeadline = nil
        handlerDeadline = nil
        sendDeadline = nil
        lingerDeadline = deadline(after: limits.lingerTimeout)
        updateReading()
        publishDeadline()
    }

    /// Releases everything now. Safe to call more than once.
    func teardown() {
        guard phase != .closed else { return }
        logger.trace("connection closed", metadata: ["connection": "\(id)", "phase": "\(phase)",
                                                     "requests": "\(requestsServed)"])
        if let exchange {
            exchange.task?.cancel()
            exchange.body?.fail(CancellationError())
            exchange.writerWaiter?.resume(throwing: CancellationError())
            exchange.writerWaiter = nil
        }
        exchange = nil
        output.removeAll()
        nextDeadline.store(.max, ordering: .relaxed)
        // Out of epoll first, then closed: no event for this socket reaches us after this, and a
        // descriptor number reused by the next accept belongs to a new registration (a new token).
        registration?.cancel()
        registration = nil
        socket.close()
        phase = .closed
        onClose(id)
    }

    /// Called by the server on shutdown: idle connections close now, busy ones after their response.
    func beginShutdown() {
        queue.submit { [self] in
            guard phase == .open else { return }
            shuttingDown = true
            if exchange == nil, output.isEmpty, !closeWhenDrained { teardown() }
        }
    }

    /// Closes at once, whatever is in flight (the shutdown deadline passed).
    func forceClose() {
        queue.submit { [self] in teardown() }
    }
}
