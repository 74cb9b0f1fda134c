import Foundation
import Locking
import Store

/// `/readyz`'s proof that the catalog and the blob store take writes, done at most once per
/// `maxAge`: a probe every second from each of several kubelets and load balancers must not become a
/// stream of write transactions and temp files. Concurrent probes in the same second share a result.
final class ReadinessCheck: Sendable {
    /// How long a result stands.
    static let maxAge: Duration = .seconds(1)

    /// Why the service is not ready: `detail` names the part that refused a write and is what the
    /// open probe answers; `cause`, the error itself (paths, database messages), goes to the log only.
    struct Failure: Equatable, Sendable {
        var detail: String
        var cause: String

        init(_ error: any Error) {
            cause = "\(error)"
            if let refused = error as? WriteCheckFailure {
                detail = "the \(refused.part.rawValue) does not take writes (the server's log says why)"
            } else {
                detail = "the catalog is unavailable (the server's log says why)"
            }
        }
    }

    struct Last {
        var at: ContinuousClock.Instant
        /// nil when ready, else why not.
        var failure: Failure?
    }
    private let last = Locked<Last?>(nil)

    /// The last result while it stands (younger than `maxAge`), else nil: a proof is due.
    func recent(now: ContinuousClock.Instant = .now) -> Last? {
        last.withLock { $0 }.flatMap { now - $0.at < Self.maxAge ? $0 : nil }
    }

    /// nil when ready, else why not. `check` runs (off the cooperative threads: the caller's job) only
    /// when the last result is older than `maxAge`.
    func failure(now: ContinuousClock.Instant = .now, _ check: () async throws -> Void) async -> Failure? {
        if let recent = recent(now: now) { return recent.failure }
        var failure: Failure?
        do { try await check() } catch { failure = Failure(error) }
        last.withLock { $0 = Last(at: now, failure: failure) }
        return failure
    }
}
