import Foundation

/// A plot of every module's singular values (normalised by its largest, log scale) against the index,
/// with the candidate deployment ranks marked: a picture of how much each rank would keep.
enum SpectrumSVG {
    static let width = 720.0, height = 420.0
    static let margin = (left: 64.0, right: 24.0, top: 40.0, bottom: 48.0)
    /// The smallest ratio σᵢ/σ₁ drawn; below it lines are clipped to the axis.
    static let floorRatio = 1e-4

    static func render(title: String, spectra: [(name: String, values: [Double])], marks: [Int]) -> String {
        let maxIndex = max(spectra.map(\.values.count).max() ?? 1, 2)
        let plotW = width - margin.left - margin.right
        let plotH = height - margin.top - margin.bottom
        func x(_ i: Int) -> Double { margin.left + plotW * Double(i - 1) / Double(maxIndex - 1) }
        func y(_ ratio: Double) -> Double {
            let r = max(ratio, floorRatio)
            return margin.top + plotH * (log10(r) / log10(floorRatio))
        }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(width / 2))" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>

        """
        // Axes and decade grid.
        for decade in 0...4 {
            let yy = y(pow(10, -Double(decade)))
            svg += "<line x1=\"\(f(margin.left))\" y1=\"\(f(yy))\" x2=\"\(f(width - margin.right))\" y2=\"\(f(yy))\" stroke=\"#ddd\"/>\n"
            svg += "<text x=\"\(f(margin.left - 6))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">1e-\(decade)</text>\n"
        }
        svg += "<line x1=\"\(f(margin.left))\" y1=\"\(f(margin.top))\" x2=\"\(f(margin.left))\" y2=\"\(f(height - margin.bottom))\" stroke=\"#333\"/>\n"
        svg += "<line x1=\"\(f(margin.left))\" y1=\"\(f(height - margin.bottom))\" x2=\"\(f(width - margin.right))\" y2=\"\(f(height - margin.bottom))\" stroke=\"#333\"/>\n"
        svg += "<text x=\"\(f(margin.left + plotW / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">singular value index i (1 … \(maxIndex))</text>\n"
        svg += "<text x=\"16\" y=\"\(f(margin.top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(margin.top + plotH / 2)))\">σᵢ / σ₁</text>\n"
        // Candidate ranks.
        for k in marks where k >= 1 && k <= maxIndex {
            svg += "<line x1=\"\(f(x(k)))\" y1=\"\(f(margin.top))\" x2=\"\(f(x(k)))\" y2=\"\(f(height - margin.bottom))\" stroke=\"#c33\" stroke-dasharray=\"4 3\"/>\n"
            svg += "<text x=\"\(f(x(k)))\" y=\"\(f(margin.top - 4))\" text-anchor=\"middle\" fill=\"#c33\">r=\(k)</text>\n"
        }
        // One faint line per module, and the mean spectrum in bold.
        var sums = [Double](repeating: 0, count: maxIndex), counts = [Int](repeating: 0, count: maxIndex)
        for s in spectra {
            guard let first = s.values.first, first > 0 else { continue }
            let points = s.values.enumerated().map { i, v -> String in
                sums[i] += v / first
                counts[i] += 1
                return "\(f(x(i + 1))),\(f(y(v / first)))"
            }
            svg += "<polyline fill=\"none\" stroke=\"#36c\" stroke-opacity=\"0.25\" points=\"\(points.joined(separator: " "))\"><title>\(escape(s.name))</title></polyline>\n"
        }
        let mean = (0..<maxIndex).filter { counts[$0] > 0 }.map { "\(f(x($0 + 1))),\(f(y(sums[$0] / Double(counts[$0]))))" }
        if !mean.isEmpty {
            svg += "<polyline fill=\"none\" stroke=\"#036\" stroke-width=\"2.5\" points=\"\(mean.joined(separator: " "))\"><title>mean over \(spectra.count) modules</title></polyline>\n"
        }
        svg += "<text x=\"\(f(width - margin.right))\" y=\"\(f(margin.top + 14))\" text-anchor=\"end\">\(spectra.count) modules; bold: mean</text>\n"
        return svg + "</svg>\n"
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
