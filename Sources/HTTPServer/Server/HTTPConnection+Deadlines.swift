import Dispatch

extension HTTPConnection {
    func deadline(after duration: Duration) -> UInt64 {
        let (deadline, overflow) = DispatchTime.now().uptimeNanoseconds.addingReportingOverflow(duration.saturatingNanoseconds)
        return overflow ? .max : deadline
    }

    /// Publishes the earliest pending deadline for the server's `DeadlineSweeper`: a store, not a
    /// timer rescheduled per request (which cost an eventfd write into libdispatch each time).
    func publishDeadline() {
        guard phase != .closed else { return }
        // Pairwise, not over an array: this runs several times per request.
        let first = min(min(headerDeadline ?? .max, idleDeadline ?? .max), bodyDeadline ?? .max)
        let second = min(min(handlerDeadline ?? .max, sendDeadline ?? .max), lingerDeadline ?? .max)
        let next = min(first, second)
        nextDeadline.store(next, ordering: .relaxed)
    }

    /// Whether the sweeper should look at this connection at `now` (read on the sweeper's queue).
    func isDue(at now: UInt64) -> Bool {
        nextDeadline.load(ordering: .relaxed) <= now
    }

    /// A deadline passed (called on `queue` by the sweeper; the deadlines are checked again here,
    /// where they live, since the connection may have moved on since the sweeper looked).
    func onDeadline() {
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
        publishDeadline()
    }
}
