import Foundation
import Synchronization

/// `/readyz`'s proof that the catalog and the blob store take writes, done at most once per
/// `maxAge`: a probe every second from each of several kubelets and load balancers must not become a
/// stream of write transactions and temp files. Concurrent probes in the same second share a result.
final class ReadinessCheck: Sendable {
    /// How long a result stands.
    static let maxAge: Duration = .seconds(1)

    private struct Last {
        var at: ContinuousClock.Instant
        var failure: String?
    }
    private let last = Mutex<Last?>(nil)

    /// nil when ready, else why not. `check` runs (off the cooperative threads: the caller's job) only
    /// when the last result is older than `maxAge`.
    func failure(now: ContinuousClock.Instant = .now, _ check: () async throws -> Void) async -> String? {
        if let recent = last.withLock({ $0 }), now - recent.at < Self.maxAge { return recent.failure }
        var failure: String?
        do { try await check() } catch { failure = "\(error)" }
        last.withLock { $0 = Last(at: now, failure: failure) }
        return failure
    }
}
