import Locking
import Store

/// The service's Prometheus metrics: what it counts, and how a scrape renders them with the gauges
/// sampled from the catalog and the server.
final class ServiceMetrics: Sendable {
    let registry = MetricsRegistry()
    /// Per-request metrics, one object per registered route (see `RouteMetrics`), keyed "METHOD pattern".
    private let routes = Locked<[String: RouteMetrics]>([:])

    init() {
        registry.describeHistogram("lora_squeeze_squeeze_duration_seconds", "Wall time of squeezes that missed the cache.")
        registry.describeCounter("lora_squeeze_squeezed_modules_total", "Modules squeezed (cache misses only).")
        registry.describeCounter("lora_squeeze_uploads_total", "Adapters uploaded (new or already stored).")
        registry.describeCounter("lora_squeeze_upload_bytes_total", "Weight bytes uploaded.")
        registry.describeCounter("lora_squeeze_base_uploads_total", "Base models uploaded (new or already stored).")
        registry.describeCounter("lora_squeeze_base_upload_bytes_total", "Base model bytes uploaded (every file).")
        registry.describeCounter("lora_squeeze_squeezes_cancelled_total",
                                 "Requests that stopped waiting for a squeeze because their client went away.")
        registry.describeCounter("lora_squeeze_blobs_damaged_total",
                                 "Stored files found not to match their SHA-256 and quarantined, by what found them (read: first read since start; scrub: the background scrub).",
                                 labels: ["found_by"])
        registry.describeCounter("lora_squeeze_scrubs_total", "Background scrubs completed.")
        registry.describeCounter("lora_squeeze_scrub_bytes_total", "Bytes rehashed by the background scrub.")
        registry.describeCounter("lora_squeeze_jobs_deleted_total", "Finished jobs deleted after the retention period.")
        registry.describeCounter("lora_squeeze_problems_total",
                                 "Error responses by problem type (e.g. squeeze-queue-full, too-many-squeezes, output-too-large, insufficient-storage).",
                                 labels: ["type"])
        registry.describeCounter("lora_squeeze_auth_failures_total",
                                 "Refused authentications by reason (missing, malformed, unknown, expired, revoked, rate_limited, insufficient_scope).",
                                 labels: ["reason"])
    }

    func authFailure(_ reason: String) {
        registry.increment("lora_squeeze_auth_failures_total", labels: [reason])
    }

    func problem(_ type: String) {
        registry.increment("lora_squeeze_problems_total", labels: [type])
    }

    func blobDamaged(foundBy: String) {
        registry.increment("lora_squeeze_blobs_damaged_total", labels: [foundBy])
    }

    func scrubbed(bytes: Int64, completed: Bool) {
        registry.increment("lora_squeeze_scrub_bytes_total", by: Double(bytes))
        if completed { registry.increment("lora_squeeze_scrubs_total") }
    }

    func jobsDeleted(_ count: Int) {
        registry.increment("lora_squeeze_jobs_deleted_total", by: Double(count))
    }

    func squeezeCancelled() {
        registry.increment("lora_squeeze_squeezes_cancelled_total")
    }

    /// The metrics of the route `method pattern`, made on its registration (the same object however
    /// often the route table is built); each request then records into it without a lock.
    func route(_ pattern: String, method: String) -> RouteMetrics {
        routes.withLock { routes in
            let key = method + " " + pattern
            if let existing = routes[key] { return existing }
            let made = RouteMetrics(route: pattern, method: method)
            routes[key] = made
            return made
        }
    }

    /// The four request families, from every route's counters: requests by route, method and
    /// status; latency by route (the route's methods together); body bytes in and out by route.
    func renderRequests() -> String {
        let readings = routes.withLock { Array($0.values) }.map { ($0.route, $0.read()) }
        var requests: [(labels: [String], count: UInt64)] = []
        struct PerRoute { var buckets: [UInt64]; var seconds: Double; var bytesIn: UInt64; var bytesOut: UInt64 }
        var perRoute: [String: PerRoute] = [:]
        for (route, reading) in readings {
            for r in reading.requests { requests.append(([route, r.method, String(r.status)], r.count)) }
            guard reading.count > 0 else { continue }
            var sums = perRoute[route] ?? PerRoute(buckets: Array(repeating: 0, count: reading.buckets.count),
                                                   seconds: 0, bytesIn: 0, bytesOut: 0)
            for (i, n) in reading.buckets.enumerated() { sums.buckets[i] &+= n }
            sums.seconds += reading.seconds
            sums.bytesIn &+= reading.bytesIn
            sums.bytesOut &+= reading.bytesOut
            perRoute[route] = sums
        }
        requests.sort { $0.labels.lexicographicallyPrecedes($1.labels) }
        let routeNames = perRoute.keys.sorted()
        let label = MetricsRegistry.labels, number = MetricsRegistry.number
        var out = "# HELP lora_squeeze_http_requests_total HTTP requests by route, method and status.\n"
            + "# TYPE lora_squeeze_http_requests_total counter\n"
        for r in requests {
            out += "lora_squeeze_http_requests_total\(label(["route", "method", "status"], r.labels)) \(r.count)\n"
        }
        out += "# HELP lora_squeeze_http_request_duration_seconds HTTP request latency by route.\n"
            + "# TYPE lora_squeeze_http_request_duration_seconds histogram\n"
        for route in routeNames {
            guard let sums = perRoute[route] else { continue }
            var cumulative: UInt64 = 0
            for (i, bound) in RouteMetrics.bounds.enumerated() {
                cumulative &+= sums.buckets[i]
                out += "lora_squeeze_http_request_duration_seconds_bucket\(label(["route", "le"], [route, number(bound)])) \(cumulative)\n"
            }
            cumulative &+= sums.buckets[RouteMetrics.bounds.count]
            out += "lora_squeeze_http_request_duration_seconds_bucket\(label(["route", "le"], [route, "+Inf"])) \(cumulative)\n"
            out += "lora_squeeze_http_request_duration_seconds_sum\(label(["route"], [route])) \(number(sums.seconds))\n"
            out += "lora_squeeze_http_request_duration_seconds_count\(label(["route"], [route])) \(cumulative)\n"
        }
        out += "# HELP lora_squeeze_http_request_bytes_total Request body bytes received.\n"
            + "# TYPE lora_squeeze_http_request_bytes_total counter\n"
        for route in routeNames where (perRoute[route]?.bytesIn ?? 0) > 0 {
            out += "lora_squeeze_http_request_bytes_total\(label(["route"], [route])) \(perRoute[route]?.bytesIn ?? 0)\n"
        }
        out += "# HELP lora_squeeze_http_response_bytes_total Response body bytes sent (declared lengths).\n"
            + "# TYPE lora_squeeze_http_response_bytes_total counter\n"
        for route in routeNames where (perRoute[route]?.bytesOut ?? 0) > 0 {
            out += "lora_squeeze_http_response_bytes_total\(label(["route"], [route])) \(perRoute[route]?.bytesOut ?? 0)\n"
        }
        return out
    }

    func squeezed(seconds: Double, modules: Int) {
        registry.observe("lora_squeeze_squeeze_duration_seconds", seconds)
        registry.increment("lora_squeeze_squeezed_modules_total", by: Double(modules))
    }

    func adapterUploaded(bytes: Int) {
        registry.increment("lora_squeeze_uploads_total")
        registry.increment("lora_squeeze_upload_bytes_total", by: Double(bytes))
    }

    func baseUploaded(bytes: Int64) {
        registry.increment("lora_squeeze_base_uploads_total")
        registry.increment("lora_squeeze_base_upload_bytes_total", by: Double(bytes))
    }

    func render(statistics s: CatalogStatistics, openConnections: Int, squeezesInFlight: Int, squeezesWaiting: Int,
                computeQueued: Int, kernelTLSConnections: Int, replica: String, catalog: String) -> String {
        renderRequests() + registry.render(gauges: [
            ("lora_squeeze_replica_info", "This process: its --replica-id and catalog backend (sqlite or postgresql). Every other series is this replica's own, except the catalog totals (adapters, cache, jobs), which are the fleet's; join on it, or sum per replica.",
             ["replica", "catalog"], [([replica, catalog], 1)]),
            ("lora_squeeze_squeezes_in_flight", "Distinct squeezes and merges computing or queued (bounded by the squeeze queue).", [],
             [([], Double(squeezesInFlight))]),
            ("lora_squeeze_squeeze_waiters", "Requests waiting on a squeeze or merge.", [], [([], Double(squeezesWaiting))]),
            ("lora_squeeze_compute_queued", "Jobs (squeezes, merges, upload validations) waiting for a compute thread.", [],
             [([], Double(computeQueued))]),
            ("lora_squeeze_cache_pinned_bytes", "Bytes held by pinned cache entries.", [], [([], Double(s.cache.pinnedBytes))]),
            ("lora_squeeze_cache_hits_total", "Squeeze cache hits since start.", [], [([], Double(s.cache.hits))]),
            ("lora_squeeze_cache_misses_total", "Squeeze cache misses since start.", [], [([], Double(s.cache.misses))]),
            ("lora_squeeze_cache_evictions_total", "Squeeze cache evictions since start.", [], [([], Double(s.cache.evictions))]),
            ("lora_squeeze_cache_entries", "Squeeze cache entries.", [], [([], Double(s.cache.entries))]),
            ("lora_squeeze_cache_bytes", "Bytes held by the squeeze cache.", [], [([], Double(s.cache.bytes))]),
            ("lora_squeeze_adapters", "Stored adapters.", [], [([], Double(s.adapterCount))]),
            ("lora_squeeze_adapter_bytes", "Bytes of stored adapters.", [], [([], Double(s.adapterBytes))]),
            ("lora_squeeze_blob_bytes", "Bytes of all blobs (adapters and cache).", [], [([], Double(s.blobBytes))]),
            ("lora_squeeze_jobs", "Jobs by state.", ["state"],
             JobState.allCases.map { ([$0.rawValue], Double(s.jobsByState[$0] ?? 0)) }),
            ("lora_squeeze_open_connections", "Open HTTP connections.", [], [([], Double(openConnections))]),
            ("lora_squeeze_tls_kernel_connections_total", "TLS connections whose sends the kernel took (--tls-ktls on) since start.", [],
             [([], Double(kernelTLSConnections))]),
        ])
    }
}
