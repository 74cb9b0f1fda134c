import Foundation
@testable import Service
import SqueezeEngine
import Testing

/// The dashboard's markup as values: escaping, the energy plot, formats, the sign-in redirect rule.
@Suite("Dashboard: HTML, plot and formats")
struct DashboardHTMLTests {
    static let hostile = [
        "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "' onmouseover='alert(1)",
        "&amp; &lt;", "\u{202E}gnp.exe\u{202C}", "</textarea></title><svg onload=alert(1)>", "javascript:alert(1)",
    ]

    @Test("an interpolated string is text: no tag opens and no attribute ends, whatever it holds", arguments: hostile)
    func escapes(_ text: String) {
        let page: HTML = "<p title=\"\(text)\">\(text)</p>"
        let inner = page.markup.dropFirst("<p title=\"".count).dropLast("</p>".count)
        // The attribute's value, then `">`, then the text: neither part holds a character that ends it.
        let parts = inner.components(separatedBy: "\">")
        #expect(parts.count == 2, "only the markup's own \"> separates them: \(inner)")
        for part in parts { #expect(!part.contains(where: { "<>\"'".contains($0) }), "\(part)") }
        // Unescaping gives the text back: nothing is lost either.
        let unescaped = parts[1]
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
        #expect(unescaped == text)
    }

    @Test("HTML values and literals are markup; numbers are digits")
    func markup() {
        let cell: HTML = "<td>\(42)</td>"
        let row: HTML = "<tr>\(cell)\([cell, cell])</tr>"
        #expect(row.markup == "<tr><td>42</td><td>42</td><td>42</td></tr>")
        var built = HTML()
        built += "<b>\("<")</b>"
        #expect(built.markup == "<b>&lt;</b>")
    }

    @Test("the energy plot has a curve per module, the mean and minimum, vLLM's marks and the chosen rank")
    func plot() throws {
        let modules: [(name: String, singularValues: [Double])] = [
            ("q_proj<x>", [4, 2, 1, 0.5]), ("v_proj", [1, 1, 1, 1, 1, 1, 1, 1]), ("zero", [0, 0]),
        ]
        let plot = EnergyPlot(modules: modules, chosenRank: 2, marks: [1, 8, 16])
        let svg = plot.svg.markup
        #expect(svg.components(separatedBy: "<polyline class=\"module\"").count - 1 == 3)
        #expect(svg.contains("data-modules=\"3\"") && svg.contains("data-module=\"q_proj&lt;x&gt;\""))
        #expect(svg.contains("class=\"mean\"") && svg.contains("class=\"minimum\"") && svg.contains("class=\"chosen\""))
        #expect(svg.components(separatedBy: "class=\"vllm-rank\"").count - 1 == 2, "16 is past the largest rank, 8")
        // Energy by hand: q keeps (16+4)/(16+4+1+0.25) at 2; v keeps 2/8; a zero update keeps everything.
        let q = plot.curves[0], v = plot.curves[1], zero = plot.curves[2]
        #expect(abs(q.energy(at: 2) - 20 / 21.25) < 1e-12 && abs(v.energy(at: 2) - 0.25) < 1e-12 && zero.energy(at: 1) == 1)
        #expect(q.energy(at: 4) == 1 && q.energy(at: 100) == 1 && v.energy(at: 8) == 1)
        #expect(abs(plot.mean(at: 2) - (20 / 21.25 + 0.25 + 1) / 3) < 1e-12 && plot.minimum(at: 2) == 0.25)
        #expect(plot.sampleRanks == Array(1...8))
        let big = EnergyPlot(modules: [("m", (1...512).map { 1 / Double($0) })], chosenRank: nil, marks: [])
        #expect(big.sampleRanks.count <= EnergyPlot.maxPoints + 1 && big.sampleRanks.first == 1 && big.sampleRanks.last == 512)
    }

    /// An inspection as the catalog stores it (JSON), with these singular values per module.
    static func inspection(_ modules: [(String, [Double])], bytes: Int = 1000) throws -> AdapterInspection {
        let list = modules.map { name, sigma in
            "{\"name\": \"\(name)\", \"kind\": \"linear\", \"outFeatures\": 8, \"inFeatures\": 4, \"rank\": \(sigma.count), \"dtype\": \"F32\", \"alpha\": 1, \"scale\": 1, \"ranks\": [], \"energy\": [], \"singularValues\": \(sigma)}"
        }
        let json = "{\"format\": \"peft\", \"modules\": [\(list.joined(separator: ","))], \"bytes\": \(bytes), \"candidates\": []}"
        return try JSONDecoder().decode(AdapterInspection.self, from: Data(json.utf8))
    }

    @Test("the normalize preview's figures against a computation by hand")
    func normalizePreview() throws {
        let x = try Self.inspection([("m1", [2, 1]), ("m2", [1, 1, 1, 1])])
        let y = try Self.inspection([("m3", [3])])
        let figures = NormalizePage.candidates([(x, 2000), (y, 1500)], ranks: [1, 2, 4])
        #expect(figures.map(\.rank) == [1, 2, 4])
        // k = 1: x keeps 4/5 and 1/4 (mean 0.525), y keeps all.
        #expect(abs(figures[0].meanEnergy - (0.525 + 1) / 2) < 1e-12 && abs(figures[0].worstAdapterEnergy - 0.525) < 1e-12)
        #expect(abs(figures[0].worstModuleEnergy - 0.25) < 1e-12)
        // k = 2: m1 whole, m2 half.
        #expect(abs(figures[1].meanEnergy - ((1 + 0.5) / 2 + 1) / 2) < 1e-12 && abs(figures[1].worstModuleEnergy - 0.5) < 1e-12)
        #expect(figures[2].meanEnergy == 1 && figures[2].worstAdapterEnergy == 1 && figures[2].worstModuleEnergy == 1)
        for (i, k) in [1, 2, 4].enumerated() {
            let expected = OutputSize.squeezed(sourceBytes: 2000, x, rank: k, dtype: nil) + OutputSize.squeezed(sourceBytes: 1500, y, rank: k, dtype: nil)
            #expect(figures[i].bytes == expected)
        }
        #expect(NormalizePage.candidateRanks(maxRank: 64, limit: 512) == [1, 8, 16, 32, 64])
        #expect(NormalizePage.candidateRanks(maxRank: 4, limit: 512) == [1, 8, 16], "8 and 16 are always offered")
        #expect(NormalizePage.candidateRanks(maxRank: 512, limit: 256) == [1, 8, 16, 32, 64, 128, 256])
    }

    @Test("sizes, percentages, UTC times and relative times")
    func formats() {
        #expect(DashboardFormat.bytes(Int64(512)) == "512 B" && DashboardFormat.bytes(Int64(1536)) == "1.5 KiB")
        #expect(DashboardFormat.bytes(Int64(20) << 30) == "20.0 GiB")
        #expect(DashboardFormat.percent(0.97341) == "97.34 %" && DashboardFormat.percent(.nan) == "–")
        let t = Date(timeIntervalSince1970: 1_796_385_789)   // 2026-12-04 12:03:09 UTC
        #expect(DashboardFormat.utc(t) == "2026-12-04 12:03:09 UTC")
        #expect(DashboardFormat.relative(t, now: t.addingTimeInterval(1)) == "just now")
        #expect(DashboardFormat.relative(t, now: t.addingTimeInterval(42)) == "42 s ago")
        #expect(DashboardFormat.relative(t, now: t.addingTimeInterval(3 * 3600 + 5)) == "3 h ago")
        #expect(DashboardFormat.relative(t, now: t.addingTimeInterval(-300)) == "in 5 min")
        #expect(DashboardFormat.pathSegment("team-a/chat v2", keepingSlash: true) == "team-a/chat%20v2")
        #expect(DashboardFormat.query("a/b&c=d") == "a%2Fb%26c%3Dd")
    }

    @Test("after sign-in only a dashboard path is followed, never another site")
    func safeNext() {
        #expect(SignInPage.safeNext("/ui/jobs/abc?x=1") == "/ui/jobs/abc?x=1")
        for bad in ["//evil.example/ui/", "https://evil.example/", "/\\evil.example", "/ui/\\x", "/v1/tokens", "", nil,
                    "/ui/a b", "/ui/\u{202E}"] as [String?] {
            #expect(SignInPage.safeNext(bad) == "/ui/adapters", "\(bad ?? "nil")")
        }
    }

    @Test("CSRF tokens: one per browser secret, checked in full")
    func csrf() {
        let a = DashboardSessions.newSecret(), b = DashboardSessions.newSecret()
        #expect(a != b && DashboardSessions.isWellFormed(a) && a.count == DashboardSessions.secretLength)
        #expect(DashboardSessions.checkCSRF(DashboardSessions.csrfToken(a), secret: a))
        #expect(!DashboardSessions.checkCSRF(DashboardSessions.csrfToken(b), secret: a))
        #expect(!DashboardSessions.checkCSRF(String(DashboardSessions.csrfToken(a).dropLast()), secret: a))
        #expect(!DashboardSessions.checkCSRF(nil, secret: a) && !DashboardSessions.checkCSRF("", secret: a))
        #expect(!DashboardSessions.isWellFormed(String(a.dropLast())) && !DashboardSessions.isWellFormed(a.uppercased()))
    }
}
