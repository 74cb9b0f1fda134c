/// The API's JSON bodies as the tests read them (keys as the service writes them: camelCase).
/// Declared here, not taken from the Service module, so a renamed or dropped field fails a test.

struct ModuleJSON: Decodable, Equatable {
    let name: String
    let kind: String
    let outFeatures: Int
    let inFeatures: Int
    let rank: Int
    let dtype: String
    let alpha: Double
    let scale: Double
}

struct AdapterJSON: Decodable, Equatable {
    let digest: String
    let names: [String]
    let format: String
    let baseModel: String?
    let createdAt: String
    let moduleCount: Int
    let bytes: Int64
    let files: [String: String]
    let modules: [ModuleJSON]?
}

struct PageJSON: Decodable {
    let items: [AdapterJSON]
    let total: Int
    let nextOffset: Int?
}

struct NameMoveJSON: Decodable {
    let name: String
    let digest: String
    let previous: String?
}

struct OutcomeJSON: Decodable, Equatable {
    let digest: String
    let status: String
    let error: String?
    let urls: [String: String]?
}

struct JobJSON: Decodable {
    let id: String
    let kind: String
    let state: String
    let done: Int
    let total: Int
    let adapters: [OutcomeJSON]
    let error: String?
}

struct ProblemJSON: Decodable {
    let type: String
    let title: String
    let status: Int
    let detail: String
}

struct SpectrumJSON: Decodable {
    struct Module: Decodable {
        let name: String
        let rank: Int
        let singularValues: [Double]
    }
    let digest: String
    let modules: [Module]
}

/// One scrape of `/metrics` (Prometheus text format 0.0.4), parsed by hand.
struct MetricsSnapshot {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    let samples: [Sample]

    init(text: String) {
        var samples: [Sample] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            var labels: [String: String] = [:]
            let name: Substring
            if let brace = series.firstIndex(of: "{") {
                name = series[..<brace]
                // Label values here never hold '"', ',' or '=' (routes, methods, statuses, states).
                for pair in series[series.index(after: brace)..<(series.lastIndex(of: "}") ?? series.endIndex)].split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2 else { continue }
                    labels[String(kv[0])] = String(kv[1].dropFirst().dropLast())
                }
            } else {
                name = series
            }
            samples.append(Sample(name: String(name), labels: labels, value: value))
        }
        self.samples = samples
    }

    /// The sample called `name` with exactly these labels; 0 when there is none (a counter not yet incremented).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.first { $0.name == name && $0.labels == labels }?.value ?? 0
    }

    /// True when a sample called `name` is present (with any labels).
    func has(_ name: String) -> Bool { samples.contains { $0.name == name } }
}
