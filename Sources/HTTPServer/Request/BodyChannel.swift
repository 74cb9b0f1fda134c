import Locking

/// Hands request body chunks from a connection's queue to the handler task, with backpressure:
/// the connection stops reading the socket while `bufferedBytes` is above the high-water mark and is
/// told to resume through `onDemand` once the handler has drained it.
final class BodyChannel: @unchecked Sendable {
    private struct State {
        var chunks: [[UInt8]] = []
        var head = 0
        var bufferedBytes = 0
        var finished = false
        var failure: (any Error)?
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
        var started = false
    }

    static let highWaterBytes = 256 * 1024

    private let state = Locked(State())
    /// Called (from any thread) when the consumer first reads, and whenever it has drained the buffer.
    private let onDemand: @Sendable (_ first: Bool) -> Void

    init(onDemand: @escaping @Sendable (_ first: Bool) -> Void) {
        self.onDemand = onDemand
    }

    /// Adds a chunk; returns false when the buffer is above the high-water mark and reading should pause.
    @discardableResult
    func push(_ chunk: [UInt8]) -> Bool {
        let (waiter, belowHighWater): (CheckedContinuation<[UInt8]?, any Error>?, Bool) = state.withLock { s in
            if let waiter = s.waiter {
                s.waiter = nil
                return (waiter, true)
            }
            s.chunks.append(chunk)
            s.bufferedBytes += chunk.count
            return (nil, s.bufferedBytes < Self.highWaterBytes)
        }
        waiter?.resume(returning: chunk)
        return belowHighWater
    }

    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<[UInt8]?, any Error>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    func fail(_ error: any Error) {
        let waiter = state.withLock { s -> CheckedContinuation<[UInt8]?, any Error>? in
            guard !s.finished, s.failure == nil else { return nil }
            s.failure = error
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(throwing: error)
    }

    /// The next chunk, nil at the end of the body.
    func next() async throws -> [UInt8]? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
            enum Outcome { case chunk([UInt8], wasBlocked: Bool), end, failure(any Error), wait }
            let (outcome, first) = state.withLock { s -> (Outcome, Bool) in
                let first = !s.started
                s.started = true
                if s.head < s.chunks.count {
                    let chunk = s.chunks[s.head]
                    let wasBlocked = s.bufferedBytes >= Self.highWaterBytes
                    s.head += 1
                    s.bufferedBytes -= chunk.count
                    if s.head == s.chunks.count {
                        s.chunks.removeAll(keepingCapacity: true)
                        s.head = 0
                    }
                    return (.chunk(chunk, wasBlocked: wasBlocked && s.bufferedBytes < Self.highWaterBytes), first)
                }
                if let failure = s.failure { return (.failure(failure), first) }
                if s.finished { return (.end, first) }
                s.waiter = continuation
                return (.wait, first)
            }
            switch outcome {
            case .chunk(let chunk, let wasBlocked):
                continuation.resume(returning: chunk)
                if first || wasBlocked { onDemand(first) }
            case .end:
                continuation.resume(returning: nil)
            case .failure(let error):
                continuation.resume(throwing: error)
            case .wait:
                onDemand(first)
            }
        }
    }
}
