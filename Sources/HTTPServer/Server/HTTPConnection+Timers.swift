import Dispatch

extension HTTPConnection {
    func deadline(after duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        let nanos = max(0, seconds) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
        return DispatchTime.now().uptimeNanoseconds &+ UInt64(nanos)
    }

    /// Points the one timer of this connection at the earliest pending deadline.
    func rescheduleTimer() {
        guard phase != .closed, let timer else { return }
        let next = [headerDeadline, idleDeadline, bodyDeadline, handlerDeadline, sendDeadline, lingerDeadline]
            .compactMap { $0 }.min()
        if let next {
            timer.schedule(deadline: DispatchTime(uptimeNanoseconds: next), leeway: .milliseconds(10))
        } else {
            timer.schedule(deadline: .distantFuture)
        }
    }

    func onTimer() {
        guard phase != .closed else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        func due(_ deadline: UInt64?) -> Bool { deadline.map { $0 <= now } ?? false }

        if due(lingerDeadline) || due(sendDeadline) {
            // Lingering is over, or the client stopped reading what we send: abort.
            return teardown()
        }
        if due(handlerDeadline) {
            logger.warning("handler timed out", metadata: ["request-id": "\(exchange?.requestID ?? "-")"])
            return sendErrorAndClose(.handlerTimeout)
        }
        if due(bodyDeadline) {
            return sendErrorAndClose(.requestTimeout("no part of the request body arrived for \(limits.bodyIdleTimeout)"))
        }
        if due(headerDeadline) {
            // Nothing received: close silently, as between keep-alive requests (RFC 9112 §9.5).
            if parser.isAtMessageBoundary { return teardown() }
            return sendErrorAndClose(.requestTimeout("the request head did not arrive within \(limits.headerTimeout)"))
        }
        if due(idleDeadline) { return teardown() }
        rescheduleTimer()
    }
}
