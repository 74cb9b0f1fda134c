import Dispatch
import Logging

extension HTTPConnection {
    /// The first byte of a TLS connection is a handshake record (content type 22). Anything else is a
    /// client speaking plain HTTP to a TLS port: it gets a plain-text 400 and the connection closes,
    /// as nginx answers "The plain HTTP request was sent to HTTPS port".
    static let tlsHandshakeRecord: UInt8 = 0x16

    /// Drives the handshake on readiness events; the header timeout, armed at accept, bounds it.
    func advanceHandshake() {
        guard phase == .open, let tls else { return }
        if !tlsRecordSeen {
            let (result, byte) = socket.peekByte()
            switch result {
            case .wouldBlock:
                return
            case .endOfFile, .failed:
                return teardown()
            case .bytes:
                guard byte == Self.tlsHandshakeRecord else {
                    self.tls = nil
                    logger.debug("plain HTTP on a TLS port", metadata: ["connection": "\(id)"])
                    return sendErrorAndClose(HTTPError(.badRequest, type: "plain-http-on-tls-port",
                                                       detail: "this port speaks HTTPS (TLS); the request was sent as plain HTTP"))
                }
                tlsRecordSeen = true
            }
        }
        switch tls.handshake() {
        case .done:
            armWrite(!output.isEmpty)
            updateReading()
        case .wouldBlock:
            armWrite(tls.wantsWrite)
        case .failed(let reason):
            logger.debug("TLS handshake failed", metadata: ["connection": "\(id)", "reason": "\(reason)"])
            teardown()
        }
    }

    /// Records OpenSSL has already taken off the socket are not announced by epoll again: read them
    /// now when reading is wanted.
    func readBufferedTLS() {
        guard phase != .closed, let tls, tls.handshakeDone, tls.hasBufferedInput else { return }
        guard phase == .lingering || !(exchange.map { $0.bodyComplete || $0.bodyBlocked } ?? false) else { return }
        queue.submit { [self] in onReadable() }
    }
}
