import Foundation
import Locking

/// Counters and histograms with labels, rendered in the Prometheus text exposition format (0.0.4).
/// Thread-safe; cheap enough to update on every request.
final class MetricsRegistry: Sendable {
    /// Latency buckets in seconds (Prometheus' defaults widened to cover squeezes of large adapters).
    static let durationBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    private struct Key: Hashable { let name: String; let labels: [String] }
    private struct Histogram { var buckets: [Int]; var sum: Double; var count: Int }
    private struct State {
        var help: [String: (type: String, text: String, labelNames: [String])] = [:]
        var counters: [Key: Double] = [:]
        var histograms: [Key: Histogram] = [:]
        var bucketBounds: [String: [Double]] = [:]
    }

    private let state = Locked(State())

    func describeCounter(_ name: String, _ text: String, labels: [String] = []) {
        state.withLock { $0.help[name] = ("counter", text, labels) }
    }

    func describeHistogram(_ name: String, _ text: String, labels: [String] = [], buckets: [Double] = durationBuckets) {
        state.withLock { s in
            s.help[name] = ("histogram", text, labels)
            s.bucketBounds[name] = buckets
        }
    }

    func increment(_ name: String, by value: Double = 1, labels: [String] = []) {
        state.withLock { $0.counters[Key(name: name, labels: labels), default: 0] += value }
    }

    func observe(_ name: String, _ value: Double, labels: [String] = []) {
        state.withLock { s in
            let bounds = s.bucketBounds[name] ?? Self.durationBuckets
            let key = Key(name: name, labels: labels)
            var h = s.histograms[key] ?? Histogram(buckets: Array(repeating: 0, count: bounds.count), sum: 0, count: 0)
            for (i, b) in bounds.enumerated() where value <= b { h.buckets[i] += 1 }
            h.sum += value
            h.count += 1
            s.histograms[key] = h
        }
    }

    func counterValue(_ name: String, labels: [String] = []) -> Double {
        state.withLock { $0.counters[Key(name: name, labels: labels)] ?? 0 }
    }

    /// The exposition text, with `gauges` (name → (help, [(labels, value)])) sampled by the caller.
    /// Formatted from a copy taken under the lock, so updates wait only for the copy.
    func render(gauges: [(name: String, help: String, labelNames: [String], samples: [([String], Double)])]) -> String {
        let s = state.withLock { $0 }
        var out = ""
        for (name, (type, text, labelNames)) in s.help.sorted(by: { $0.key < $1.key }) {
            out += "# HELP \(name) \(text)\n# TYPE \(name) \(type)\n"
            if type == "counter" {
                for (key, v) in s.counters.filter({ $0.key.name == name }).sorted(by: { $0.key.labels.lexicographicallyPrecedes($1.key.labels) }) {
                    out += "\(name)\(Self.labels(labelNames, key.labels)) \(Self.number(v))\n"
                }
            } else {
                let bounds = s.bucketBounds[name] ?? Self.durationBuckets
                for (key, h) in s.histograms.filter({ $0.key.name == name }).sorted(by: { $0.key.labels.lexicographicallyPrecedes($1.key.labels) }) {
                    for (i, b) in bounds.enumerated() {
                        out += "\(name)_bucket\(Self.labels(labelNames + ["le"], key.labels + [Self.number(b)])) \(h.buckets[i])\n"
                    }
                    out += "\(name)_bucket\(Self.labels(labelNames + ["le"], key.labels + ["+Inf"])) \(h.count)\n"
                    out += "\(name)_sum\(Self.labels(labelNames, key.labels)) \(Self.number(h.sum))\n"
                    out += "\(name)_count\(Self.labels(labelNames, key.labels)) \(h.count)\n"
                }
            }
        }
        for g in gauges {
            out += "# HELP \(g.name) \(g.help)\n# TYPE \(g.name) gauge\n"
            for (labels, v) in g.samples { out += "\(g.name)\(Self.labels(g.labelNames, labels)) \(Self.number(v))\n" }
        }
        return out
    }

    static func labels(_ names: [String], _ values: [String]) -> String {
        guard !names.isEmpty else { return "" }
        let pairs = zip(names, values).map { "\($0)=\"\(escape($1))\"" }
        return "{" + pairs.joined(separator: ",") + "}"
    }

    static func escape(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ v: Double) -> String {
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
