import Foundation
import SqueezeEngine
import Store

/// `/ui/normalize`: choose adapters (a name prefix, or those selected on the adapters page), see the
/// energy the fleet would keep at each candidate rank, and start the normalize job.
struct NormalizePage {
    struct Candidate: Equatable {
        let rank: Int
        /// The mean over adapters of each adapter's mean module energy.
        let meanEnergy: Double
        /// The lowest adapter mean, and the lowest single module anywhere.
        let worstAdapterEnergy: Double
        let worstModuleEnergy: Double
        /// The squeezed sizes summed (upper bounds, as the service admits them).
        let bytes: Int64
    }

    let prefix: String
    /// Digests chosen one by one (empty: the prefix decides).
    let selected: [String]
    /// Adapters the selection matches, and how many of them the preview read.
    let matched: Int
    let previewed: Int
    let candidates: [Candidate]
    let chosenRank: Int
    let error: String?

    /// The candidate ranks for adapters whose largest module rank is `maxRank`: vLLM's accepted
    /// ranks up to it (at least rank 8 and 16, the common deployment ranks).
    static func candidateRanks(maxRank: Int, limit: Int) -> [Int] {
        AdapterPage.vllmRanks.filter { $0 <= max(maxRank, 16) && $0 <= limit }
    }

    /// The preview's figures for `inspections` (adapter size in bytes with each) at every rank of `ranks`.
    static func candidates(_ inspections: [(inspection: AdapterInspection, sourceBytes: Int64)], ranks: [Int]) -> [Candidate] {
        // Each module's cumulative energy once, then read at every candidate rank.
        let curves = inspections.map { entry in
            entry.inspection.modules.map { EnergyPlot.Curve(name: $0.name, values: Spectrum.cumulativeEnergy($0.singularValues)) }
        }
        return ranks.map { k in
            var means: [Double] = []
            var worstModule = 1.0
            var bytes: Int64 = 0
            for ((inspection, sourceBytes), modules) in zip(inspections, curves) {
                let energies = modules.map { $0.energy(at: k) }
                means.append(energies.isEmpty ? 1 : energies.reduce(0, +) / Double(energies.count))
                worstModule = min(worstModule, energies.min() ?? 1)
                let size = OutputSize.squeezed(sourceBytes: sourceBytes, inspection, rank: k, dtype: nil)
                bytes = bytes.addingReportingOverflow(size).overflow ? .max : bytes + size
            }
            return Candidate(rank: k, meanEnergy: means.isEmpty ? 1 : means.reduce(0, +) / Double(means.count),
                             worstAdapterEnergy: means.min() ?? 1, worstModuleEnergy: worstModule, bytes: bytes)
        }
    }

    func render(_ context: DashboardContext) -> HTML {
        var hidden = HTML()
        for digest in selected { hidden += "<input type=\"hidden\" name=\"adapter\" value=\"\(digest)\">" }
        let selection: HTML = selected.isEmpty
            ? """
                <form class="filters" method="get" action="/ui/normalize">
                <label for="n-prefix">Adapters named</label>
                <input id="n-prefix" name="prefix" value="\(prefix)" placeholder="team-a/ (empty: every adapter you can see)" autocomplete="off" spellcheck="false">
                <button type="submit">Preview</button>
                </form>
                """
            : "<p>\(selected.count) adapter\(selected.count == 1 ? "" : "s") selected on the <a href=\"/ui/adapters\">adapters page</a>.</p>"
        var rows = HTML()
        for c in candidates {
            let current: HTML = c.rank == chosenRank ? " class=\"chosen\"" : ""
            rows += "<tr\(current)><th scope=\"row\">\(c.rank)</th><td class=\"num\">\(DashboardFormat.percent(c.meanEnergy))</td><td class=\"num\">\(DashboardFormat.percent(c.worstAdapterEnergy))</td><td class=\"num\">\(DashboardFormat.percent(c.worstModuleEnergy))</td><td class=\"num\">\(DashboardFormat.bytes(c.bytes))</td></tr>"
        }
        let sample: HTML = previewed < matched ? " (figures from the newest \(previewed))" : ""
        let preview: HTML = matched == 0
            ? "<p class=\"empty\">No adapter matches this selection.</p>"
            : """
                <div class="table-wrap"><table class="candidates">
                <caption>What \(matched) adapter\(matched == 1 ? "" : "s") would keep\(sample)</caption>
                <thead><tr><th scope="col">Rank</th><th scope="col" class="num">Mean energy</th><th scope="col" class="num">Lowest adapter</th><th scope="col" class="num">Lowest module</th><th scope="col" class="num">Squeezed size</th></tr></thead>
                <tbody>\(rows)</tbody></table></div>
                """
        var options = HTML()
        for c in candidates {
            let selected: HTML = c.rank == chosenRank ? " selected" : ""
            options += "<option value=\"\(c.rank)\"\(selected)>\(c.rank) — mean \(DashboardFormat.percent(c.meanEnergy))</option>"
        }
        let error: HTML = self.error.map { "<p class=\"error\" role=\"alert\">\($0)</p>" } ?? ""
        let start: HTML = matched == 0 ? "" : """
            <form class="start" method="post" action="/ui/normalize">
            \(context.csrfField)\(hidden)<input type="hidden" name="prefix" value="\(prefix)">
            <label for="n-rank">Rank</label>
            <select id="n-rank" name="rank">\(options)</select>
            <label for="n-method">Method</label>
            <select id="n-method" name="method"><option value="exact" selected>exact (factored SVD)</option><option value="rsvd">randomized SVD</option></select>
            <button type="submit">Normalize \(matched) adapter\(matched == 1 ? "" : "s")</button>
            </form>
            """
        return DashboardLayout.page(title: "Normalize", section: .normalize, context: context, """
            <h1>Normalize a fleet</h1>
            <p>Squeeze every chosen adapter to one rank in the background, so an inference fleet loads them all at one <code>max_lora_rank</code>.</p>
            \(error)
            \(selection)
            \(preview)
            \(start)
            """)
    }
}
