import Dispatch
import Logging

extension HTTPConnection {
    static let writerHighWaterBytes = 256 * 1024
    /// The most one flush writes before yielding the loop thread to other connections.
    static let flushBudgetBytes = 2 * 1024 * 1024
    static let writerLowWaterBytes = 64 * 1024

    /// Sends the handler's response for exchange `number`, if that exchange is still current.
    func respond(_ response: HTTPResponse, number: UInt64) {
        guard phase == .open, let exchange, exchange.number == number, !exchange.responseStarted else { return }
        exchange.responseStarted = true
        handlerDeadline = nil
        let head = exchange.head
        let isHead = head.method == .head
        let framing = ResponseEncoder.framing(for: response, requestVersion: head.version)
        var streamed = false
        if case .stream = response.body { streamed = true }

        // RFC 9112 §9.3 and §9.6: say "close" when this is the last response on the connection.
        var close = !head.keepAlive || shuttingDown || peerClosed
            || requestsServed >= limits.maxRequestsPerConnection
            || response.headers.contains("Connection", token: "close")
            || (framing == .closeDelimited && !isHead)
        // A request body the handler did not wait for cannot be skipped safely in general; a streamed
        // response may still be reading it, so only fixed responses decide this now.
        if !exchange.bodyComplete, !streamed { close = true }
        exchange.closeAfterResponse = close

        // HEAD of a body whose length is not known yet: neither Content-Length nor Transfer-Encoding
        // (RFC 9110 §9.3.2 lets a HEAD omit them), rather than a length or a framing the GET may not use.
        let headFraming = isHead && response.body.knownLength == nil ? .none : framing
        headBuffer.removeAll(keepingCapacity: true)
        ResponseEncoder.encodeHead(for: response, framing: headFraming, close: close,
                                   keepAliveHTTP10: head.version == .http1_0 && !close,
                                   requestID: exchange.requestID, into: &headBuffer)
        let sendsContent = !isHead && framing != .none
        switch response.body {
        case .empty:
            sendHeadBuffer()
        case .bytes(let body):
            if sendsContent, headBuffer.count + body.count <= Self.inlineBodyBytes {
                headBuffer += body
                sendHeadBuffer()
            } else {
                sendHeadBuffer()
                if sendsContent { output.append(body) }
            }
        case .file(let file, let offset, let length):
            sendHeadBuffer()
            if sendsContent { output.append(file: file, offset: offset, length: length) }
        case .stream(let length, let produce):
            sendHeadBuffer()
            if sendsContent { startStream(exchange, framing: framing, length: length, produce: produce) }
        }
        flush()
    }

    /// A small body goes out in the same write as its head.
    static let inlineBodyBytes = 16 * 1024
    /// The head buffer is kept between responses up to this capacity (an idle connection holds it).
    static let keptHeadBufferBytes = 4 * 1024

    /// Writes the encoded head (and inlined body) straight from `headBuffer` when nothing is queued
    /// before it, and queues only what the socket did not take: the common response costs one write
    /// and no allocation.
    private func sendHeadBuffer() {
        defer {
            if headBuffer.capacity > Self.keptHeadBufferBytes { headBuffer = [] }
        }
        var written = 0
        if output.isEmpty, tls?.handshakeDone ?? true {
            while written < headBuffer.count {
                let result = headBuffer.withUnsafeBytes { raw in
                    let pending = UnsafeRawBufferPointer(rebasing: raw[written...])
                    return tls?.write(pending) ?? socket.write(pending)
                }
                guard case .bytes(let n) = result, n > 0 else { break }   // flush() meets the same condition
                written += n
            }
        }
        if written < headBuffer.count { output.append(Array(headBuffer[written...])) }
    }

    private func startStream(_ exchange: Exchange, framing: ResponseEncoder.Framing, length: Int?,
                             produce: @escaping @Sendable (HTTPBodyWriter) async throws -> Void) {
        exchange.streamRunning = true
        exchange.streamFraming = framing
        exchange.streamLength = length
        let number = exchange.number
        let writer = HTTPBodyWriter { [self] bytes in
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                queue.submit { self.enqueueStreamBytes(bytes, number: number, continuation: continuation) }
            }
        }
        let logger = self.logger, requestID = exchange.requestID
        Task { [self] in
            let failed: Bool
            do {
                try await produce(writer)
                failed = false
            } catch {
                failed = true
                logger.warning("response stream failed", metadata: ["error": "\(error)", "request-id": "\(requestID)"])
            }
            queue.submit { self.finishStream(number: number, failed: failed) }
        }
    }

    private func enqueueStreamBytes(_ bytes: [UInt8], number: UInt64,
                                    continuation: CheckedContinuation<Void, any Error>) {
        guard phase == .open, let exchange, exchange.number == number, exchange.streamRunning else {
            return continuation.resume(throwing: CancellationError())
        }
        exchange.streamWritten += bytes.count
        if let length = exchange.streamLength, exchange.streamWritten > length {
            continuation.resume(throwing: HTTPError.internalError)
            return teardown()
        }
        output.append(exchange.streamFraming == .chunked ? ResponseEncoder.chunk(bytes) : bytes)
        flush()
        guard phase == .open else { return continuation.resume(throwing: CancellationError()) }
        if output.bufferedBytes < Self.writerHighWaterBytes {
            continuation.resume()
        } else {
            exchange.writerWaiter = continuation
        }
    }

    private func finishStream(number: UInt64, failed: Bool) {
        guard phase == .open, let exchange, exchange.number == number, exchange.streamRunning else { return }
        exchange.streamRunning = false
        // A stream that failed, or wrote less than its announced length, cannot be completed honestly:
        // closing without the last chunk tells the client the body is truncated (RFC 9112 §8).
        if failed || (exchange.streamLength.map { $0 != exchange.streamWritten } ?? false) {
            return teardown()
        }
        if exchange.streamFraming == .chunked { output.append(ResponseEncoder.lastChunk) }
        flush()
    }

    /// Writes queued output until the socket would block; then waits for a write event.
    func flush() {
        guard phase != .closed else { return }
        if phase == .open, let tls, !tls.handshakeDone { return advanceHandshake() }
        var progressed = false
        var written = 0
        while let item = output.first {
            if written >= Self.flushBudgetBytes {
                // Enough for one turn: the loop thread serves its other sockets, and epoll reports
                // this one writable again at once (nginx's sendfile_max_chunk).
                sendDeadline = deadline(after: limits.sendIdleTimeout)
                armWrite(true)
                resumeWriterIfDrained()
                publishDeadline()
                return
            }
            let result: IOResult
            switch item {
            case .bytes(let bytes, let offset):
                result = bytes.withUnsafeBytes { raw in
                    let pending = UnsafeRawBufferPointer(rebasing: raw[offset...])
                    return tls?.write(pending) ?? socket.write(pending)
                }
            case .file(let file, let offset, let remaining):
                result = tls?.sendFile(file.fd, offset: offset, count: remaining)
                    ?? socket.sendFile(file.fd, offset: offset, count: min(remaining, 1 << 30))
            }
            switch result {
            case .bytes(let n):
                output.consume(n)
                progressed = true
                written += n
            case .wouldBlock:
                if progressed || sendDeadline == nil { sendDeadline = deadline(after: limits.sendIdleTimeout) }
                armWrite(true)
                resumeWriterIfDrained()
                publishDeadline()
                return
            case .endOfFile:
                logger.warning("file shorter than its announced length", metadata: ["connection": "\(id)"])
                return teardown()
            case .failed(let code):
                logger.debug("write failed", metadata: ["errno": "\(code)", "connection": "\(id)"])
                return teardown()
            }
        }
        armWrite(false)
        sendDeadline = nil
        resumeWriterIfDrained()
        outputDrained()
    }

    private func resumeWriterIfDrained() {
        guard let exchange, let waiter = exchange.writerWaiter,
              output.bufferedBytes < Self.writerLowWaterBytes else { return }
        exchange.writerWaiter = nil
        waiter.resume()
    }

    /// Everything queued is written: finish the response, or close.
    private func outputDrained() {
        guard phase == .open else { return }
        if closeWhenDrained { return beginClosing() }
        guard let exchange, exchange.responseStarted, !exchange.streamRunning else {
            return publishDeadline()
        }
        self.exchange = nil
        if exchange.closeAfterResponse || !exchange.bodyComplete || shuttingDown {
            return beginClosing()
        }
        // Keep-alive: the next request may already be buffered (pipelining).
        if parser.isAtMessageBoundary {
            idleDeadline = deadline(after: limits.keepAliveIdleTimeout)
        } else {
            headerDeadline = deadline(after: limits.headerTimeout)
        }
        process()
    }
}

extension HTTPResponse {
    /// The response for an error thrown by a handler: `HTTPError`s as problems, anything else as a
    /// 500 whose detail does not expose the error (it is logged with the request id instead).
    public static func forError(_ error: any Error, request: HTTPRequest, logger: Logger) -> HTTPResponse {
        switch error {
        case let error as HTTPError:
            return .problem(error, requestID: request.requestID)
        case let error as HTTPParseError:
            return .problem(HTTPError(error), requestID: request.requestID)
        default:
            logger.error("handler failed", metadata: ["error": "\(error)", "request-id": "\(request.requestID)",
                                                      "path": "\(request.path)"])
            return .problem(.internalError, requestID: request.requestID)
        }
    }
}
