import Locking

/// A token bucket of failed authentications per remote address: `failureBurst` at once, then
/// `failureRefillPerSecond`. An address whose bucket is empty is refused (429) before any lookup.
final class AuthFailureLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let limits: AuthLimits
    private let buckets = Locked<[String: Bucket]>([:])
    private let clock: @Sendable () -> ContinuousClock.Instant

    init(limits: AuthLimits, clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.limits = limits
        self.clock = clock
    }

    /// Nil when `address` may try; otherwise how long until it may try again.
    func retryAfter(_ address: String) -> Duration? {
        let now = clock()
        return buckets.withLock { buckets in
            guard let bucket = buckets[address] else { return nil }
            let tokens = refilled(bucket, now)
            guard tokens < 1 else { return nil }
            return .seconds((1 - tokens) / limits.failureRefillPerSecond)
        }
    }

    /// Counts one failure of `address`.
    func recordFailure(_ address: String) {
        let now = clock()
        buckets.withLock { buckets in
            var bucket = buckets[address].map { Bucket(tokens: refilled($0, now), updated: now) }
                ?? Bucket(tokens: Double(limits.failureBurst), updated: now)
            bucket.tokens = max(0, bucket.tokens - 1)
            if buckets[address] == nil, buckets.count >= limits.maxTrackedAddresses {
                buckets = buckets.filter { refilled($0.value, now) < Double(limits.failureBurst) }
                if buckets.count >= limits.maxTrackedAddresses { buckets.removeAll() }
            }
            buckets[address] = bucket
        }
    }

    /// Addresses tracked now (for tests of the bound).
    var trackedAddresses: Int { buckets.withLock { $0.count } }

    private func refilled(_ bucket: Bucket, _ now: ContinuousClock.Instant) -> Double {
        let elapsed = (now - bucket.updated).seconds
        return min(Double(limits.failureBurst), bucket.tokens + max(0, elapsed) * limits.failureRefillPerSecond)
    }
}
