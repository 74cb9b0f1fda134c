import Synchronization

/// The request metrics of one route (a pattern and the method it was registered for), on atomics:
/// a request costs a handful of relaxed atomic adds — no lock, no dictionary, no hashing of label
/// strings — and a scrape reads them (each counter exactly; the counters of one request are not a
/// snapshot together, which Prometheus does not need).
///
/// Memory: two tables of `statusCount` counters (the registered method, and HEAD, which a GET route
/// also answers), 8 KB per route.
final class RouteMetrics: Sendable {
    /// Status codes counted: 100–599 (RFC 9110 §15). The server answers no other; one outside is
    /// counted as 500 rather than dropped.
    static let statuses = 100...599
    static let statusCount = 500
    /// The latency histogram's upper bounds, in seconds.
    static let bounds = MetricsRegistry.durationBuckets

    let route: String
    let method: String
    private let byStatus: InlineArray<500, Atomic<UInt64>>
    private let headByStatus: InlineArray<500, Atomic<UInt64>>
    /// Requests per latency bucket (not cumulative; the last is +Inf).
    private let buckets: InlineArray<15, Atomic<UInt64>>
    private let nanoseconds = Atomic<UInt64>(0)
    private let bytesIn = Atomic<UInt64>(0)
    private let bytesOut = Atomic<UInt64>(0)

    init(route: String, method: String) {
        self.route = route
        self.method = method
        byStatus = InlineArray { _ in Atomic(0) }
        headByStatus = InlineArray { _ in Atomic(0) }
        buckets = InlineArray { _ in Atomic(0) }
    }

    /// One request answered with `status` after `duration`.
    func record(method: String, status: Int, duration: Duration, bytesIn: Int, bytesOut: Int) {
        let index = (Self.statuses.contains(status) ? status : 500) - Self.statuses.lowerBound
        if method == "HEAD", self.method != "HEAD" {
            headByStatus[index].add(1, ordering: .relaxed)
        } else {
            byStatus[index].add(1, ordering: .relaxed)
        }
        let (seconds, attoseconds) = duration.components
        let nanos = UInt64(clamping: max(0, seconds)).multipliedReportingOverflow(by: 1_000_000_000)
        let total = nanos.overflow ? UInt64.max : nanos.partialValue &+ UInt64(clamping: max(0, attoseconds / 1_000_000_000))
        let secondsValue = Double(total) / 1e9
        let bucket = min(Self.bounds.firstIndex { secondsValue <= $0 } ?? Self.bounds.count, 14)
        buckets[bucket].add(1, ordering: .relaxed)
        nanoseconds.add(total, ordering: .relaxed)
        if bytesIn > 0 { self.bytesIn.add(UInt64(bytesIn), ordering: .relaxed) }
        if bytesOut > 0 { self.bytesOut.add(UInt64(bytesOut), ordering: .relaxed) }
    }

    /// What a scrape reads.
    struct Reading {
        /// (method, status, count) for every non-zero count.
        var requests: [(method: String, status: Int, count: UInt64)] = []
        /// Per bucket, not cumulative; the last is +Inf.
        var buckets: [UInt64] = []
        var seconds: Double = 0
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64 = 0
        var count: UInt64 { buckets.reduce(0, &+) }
    }

    func read() -> Reading {
        var reading = Reading()
        for index in 0..<Self.statusCount {
            let status = Self.statuses.lowerBound + index
            let plain = byStatus[index].load(ordering: .relaxed)
            if plain > 0 { reading.requests.append((method, status, plain)) }
            let head = headByStatus[index].load(ordering: .relaxed)
            if head > 0 { reading.requests.append(("HEAD", status, head)) }
        }
        reading.buckets = (0...Self.bounds.count).map { buckets[$0].load(ordering: .relaxed) }
        reading.seconds = Double(nanoseconds.load(ordering: .relaxed)) / 1e9
        reading.bytesIn = bytesIn.load(ordering: .relaxed)
        reading.bytesOut = bytesOut.load(ordering: .relaxed)
        return reading
    }
}
