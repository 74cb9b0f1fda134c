import HTTPServer
import Locking

/// Who may wait on a squeeze: at most `squeezeQueue` distinct computations in flight (queued or
/// running) and at most `maxClientSqueezes` waiting requests per client address. Called from
/// `SingleFlight`'s admission hook, so the check and the start of a flight are one step.
///
/// Refusals carry `Retry-After`: the queue's expected drain time from the recent squeeze durations,
/// at least a second and at most a minute — for a 429 too, since the client's own squeezes wait in
/// the same FIFO queue.
final class SqueezeAdmission: Sendable {
    private struct State {
        var perClient: [String: Int] = [:]
        /// Exponentially weighted mean of recent squeeze durations, seconds; nil before the first.
        var meanSeconds: Double?
    }

    private let state = Locked(State())
    let squeezeQueue: Int
    let maxPerClient: Int
    let concurrentSqueezes: Int

    init(limits: ServiceLimits, concurrentSqueezes: Int) {
        squeezeQueue = limits.squeezeQueue
        maxPerClient = limits.maxClientSqueezes
        self.concurrentSqueezes = max(1, concurrentSqueezes)
    }

    /// Admits one request from `client` that would start a new computation (`starting`) or join one,
    /// with `inFlight` computations already in flight; throws 429 or 503 otherwise. An admitted
    /// request must call `release(client)` when it stops waiting.
    func admit(client: String, starting: Bool, inFlight: Int) throws {
        try state.withLock { s in
            let mine = s.perClient[client, default: 0]
            guard mine < maxPerClient else {
                throw HTTPError(.tooManyRequests, type: "too-many-squeezes",
                                detail: "this client already waits on \(mine) squeezes, the most one client may (max client squeezes: \(maxPerClient)); retry when one is done",
                                // Its squeezes wait in the one FIFO queue: none is done before the queue drains that far.
                                headers: ["Retry-After": String(Self.retryAfter(s.meanSeconds ?? Self.priorSeconds, queued: max(inFlight, mine), width: concurrentSqueezes))])
            }
            guard !starting || inFlight < squeezeQueue else {
                throw HTTPError(.serviceUnavailable, type: "squeeze-queue-full",
                                detail: "\(inFlight) squeezes are queued or running, the most the service takes at once (squeeze queue: \(squeezeQueue)); retry later",
                                headers: ["Retry-After": String(Self.retryAfter(s.meanSeconds ?? Self.priorSeconds, queued: inFlight, width: concurrentSqueezes))])
            }
            s.perClient[client] = mine + 1
        }
    }

    func release(client: String) {
        state.withLock { s in
            let n = s.perClient[client, default: 0]
            s.perClient[client] = n > 1 ? n - 1 : nil
        }
    }

    /// The guess before any squeeze has finished.
    static let priorSeconds = 1.0

    /// Records a finished squeeze's duration for the Retry-After estimate: the first one is taken as
    /// it is (a prior would dominate the first minutes of a busy start), later ones weigh 1/5.
    func record(seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        state.withLock { $0.meanSeconds = $0.meanSeconds.map { 0.8 * $0 + 0.2 * seconds } ?? seconds }
    }

    /// Requests now waiting, per client, for metrics and tests.
    var waitingByClient: [String: Int] { state.withLock { $0.perClient } }

    /// Seconds until `queued` squeezes of `mean` seconds drain through `width` lanes, in 1...60.
    static func retryAfter(_ mean: Double, queued: Int, width: Int) -> Int {
        let seconds = (Double(queued + 1) * mean / Double(max(1, width))).rounded(.up)
        return Int(min(60, max(1, seconds.isFinite ? seconds : 60)))
    }
}
