import Foundation
import SqueezeEngine

/// The energy an adapter keeps at each rank, as inline SVG for a dashboard page: one curve per
/// module (Σ_{i≤k}σᵢ²/Σσᵢ² against k, on a log₂ axis up to the largest source rank), the adapter's
/// mean and minimum over modules, vLLM's accepted `max_lora_rank` values marked, and the chosen
/// rank. Colours and widths come from the stylesheet (classes), so the page needs no inline style.
struct EnergyPlot {
    struct Curve {
        let name: String
        /// Energy kept at k = 1…`values.count` (the module's rank); 1 past it.
        let values: [Double]

        func energy(at k: Int) -> Double {
            guard k >= 1, !values.isEmpty else { return 0 }
            return k >= values.count ? 1 : values[k - 1]
        }
    }

    static let width = 760.0, height = 380.0
    static let margin = (left: 56.0, right: 20.0, top: 16.0, bottom: 44.0)
    /// Points drawn per curve at most: a 512-rank adapter with 400 modules stays a few hundred KB.
    static let maxPoints = 48

    let curves: [Curve]
    let chosenRank: Int?
    let marks: [Int]

    init(modules: [(name: String, singularValues: [Double])], chosenRank: Int?, marks: [Int]) {
        curves = modules.map { Curve(name: $0.name, values: Spectrum.cumulativeEnergy($0.singularValues)) }
        self.chosenRank = chosenRank
        self.marks = marks
    }

    var maxRank: Int { max(curves.map(\.values.count).max() ?? 1, 2) }

    func mean(at k: Int) -> Double {
        curves.isEmpty ? 0 : curves.reduce(0) { $0 + $1.energy(at: k) } / Double(curves.count)
    }

    func minimum(at k: Int) -> Double { curves.map { $0.energy(at: k) }.min() ?? 0 }

    /// The ranks a curve is drawn through: every k up to 16, then about evenly in log k, and the last.
    var sampleRanks: [Int] {
        let top = maxRank
        var ks = Set(1...min(top, 16))
        let steps = Self.maxPoints - ks.count
        if top > 16, steps > 0 {
            for i in 0...steps {
                ks.insert(Int((pow(Double(top), Double(i) / Double(steps)) * 16 / 16).rounded()).clamped(1, top))
            }
        }
        ks.insert(top)
        return ks.sorted()
    }

    func x(_ k: Int) -> Double {
        let plotW = Self.width - Self.margin.left - Self.margin.right
        return Self.margin.left + plotW * log2(Double(k)) / log2(Double(maxRank))
    }

    func y(_ energy: Double) -> Double {
        let plotH = Self.height - Self.margin.top - Self.margin.bottom
        return Self.margin.top + plotH * (1 - min(max(energy, 0), 1))
    }

    private func points(_ ks: [Int], _ value: (Int) -> Double) -> String {
        ks.map { "\(f(x($0))),\(f(y(value($0))))" }.joined(separator: " ")
    }

    var svg: HTML {
        let ks = sampleRanks
        var body = HTML()
        // Grid and axes.
        for tenth in stride(from: 0, through: 10, by: 2) {
            let yy = f(y(Double(tenth) / 10))
            body += "<line class=\"grid\" x1=\"\(f(Self.margin.left))\" y1=\"\(yy)\" x2=\"\(f(Self.width - Self.margin.right))\" y2=\"\(yy)\"/><text class=\"tick\" x=\"\(f(Self.margin.left - 6))\" y=\"\(yy)\" dy=\"4\" text-anchor=\"end\">\(String(tenth * 10)) %</text>"
        }
        var tick = 1
        while tick <= maxRank {
            body += "<text class=\"tick\" x=\"\(f(x(tick)))\" y=\"\(f(Self.height - Self.margin.bottom + 16))\" text-anchor=\"middle\">\(tick)</text>"
            tick *= 2
        }
        body += "<text class=\"axis-label\" x=\"\(f((Self.margin.left + Self.width - Self.margin.right) / 2))\" y=\"\(f(Self.height - 6))\" text-anchor=\"middle\">rank kept (log scale)</text>"
        for mark in marks where mark <= maxRank {
            let xx = f(x(mark))
            body += "<line class=\"vllm-rank\" x1=\"\(xx)\" y1=\"\(f(Self.margin.top))\" x2=\"\(xx)\" y2=\"\(f(Self.height - Self.margin.bottom))\"><title>vLLM max_lora_rank \(mark)</title></line>"
        }
        // One curve per module, then the summary curves on top.
        for curve in curves {
            body += "<polyline class=\"module\" data-module=\"\(curve.name)\" points=\"\(points(ks, curve.energy(at:)))\"><title>\(curve.name)</title></polyline>"
        }
        body += "<polyline class=\"mean\" points=\"\(points(ks, mean(at:)))\"><title>mean over modules</title></polyline>"
        body += "<polyline class=\"minimum\" points=\"\(points(ks, minimum(at:)))\"><title>minimum over modules</title></polyline>"
        if let chosenRank, chosenRank >= 1 {
            let k = min(chosenRank, maxRank)
            let xx = f(x(k))
            body += "<line class=\"chosen\" x1=\"\(xx)\" y1=\"\(f(Self.margin.top))\" x2=\"\(xx)\" y2=\"\(f(Self.height - Self.margin.bottom))\"/><circle class=\"chosen\" cx=\"\(xx)\" cy=\"\(f(y(mean(at: k))))\" r=\"4\"><title>rank \(chosenRank): mean \(DashboardFormat.percent(mean(at: k)))</title></circle>"
        }
        let summary = "Energy kept against rank for \(curves.count) modules"
        return """
            <svg class="energy-plot" role="img" aria-label="\(summary)" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" xmlns="http://www.w3.org/2000/svg" data-modules="\(curves.count)"><title>\(summary)</title>\(body)</svg>
            """
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}

extension Comparable {
    fileprivate func clamped(_ low: Self, _ high: Self) -> Self { Swift.min(Swift.max(self, low), high) }
}
