import Foundation
import SqueezeEngine

/// The end-of-run summary: modules, time, energy kept, the worst module.
struct SqueezeSummary: Encodable {
    let modules: Int
    let seconds: Double
    let deploymentRank: Int?
    let outputBytes: Int
    let format: String
    let methods: [String: Int]
    let minRetainedEnergy: Double
    let meanRetainedEnergy: Double
    let worstModule: String?
    let worstRelativeError: Double
    let reports: [ModuleReport]

    init(reports: [ModuleReport], seconds: Double, deploymentRank: Int?, outputBytes: Int, format: String) {
        self.modules = reports.count
        self.seconds = seconds
        self.deploymentRank = deploymentRank
        self.outputBytes = outputBytes
        self.format = format
        self.methods = Dictionary(reports.map { ($0.method.rawValue, 1) }, uniquingKeysWith: +)
        self.minRetainedEnergy = reports.map(\.retainedEnergy).min() ?? 1
        self.meanRetainedEnergy = reports.isEmpty ? 1 : reports.map(\.retainedEnergy).reduce(0, +) / Double(reports.count)
        let worst = reports.max { $0.relativeError < $1.relativeError }
        self.worstModule = worst?.name
        self.worstRelativeError = worst?.relativeError ?? 0
        self.reports = reports
    }

    var text: String {
        let methodText = methods.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let rankText = deploymentRank.map { "rank \($0)" } ?? "per-module ranks \(reports.map(\.rank).min() ?? 0)…\(reports.map(\.rank).max() ?? 0)"
        var lines = [
            "squeezed \(modules) modules (\(format)) to \(rankText) in \(String(format: "%.3f", seconds)) s (\(methodText))",
            "energy kept: min \(String(format: "%.4f", minRetainedEnergy)), mean \(String(format: "%.4f", meanRetainedEnergy))",
        ]
        if let w = worstModule {
            lines.append("worst module: \(w) (relative error \(String(format: "%.4g", worstRelativeError)))")
        }
        lines.append("output: \(ByteFormat.string(outputBytes)) of weights")
        return lines.joined(separator: "\n")
    }

    func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }
}

enum ByteFormat {
    static func string(_ bytes: Int) -> String {
        let b = Double(bytes)
        let (kib, mib, gib) = (1024.0, 1024.0 * 1024, 1024.0 * 1024 * 1024)
        if b >= gib { return String(format: "%.2f GiB", b / gib) }
        if b >= mib { return String(format: "%.1f MiB", b / mib) }
        if b >= kib { return String(format: "%.1f KiB", b / kib) }
        return "\(bytes) B"
    }
}
