import Foundation
import SqueezeEngine
import Store

/// `/ui/adapters/{ref}`: one adapter's modules, the energy it keeps at every rank, a rank picker
/// (what the chosen rank keeps, weighs and loses most, and the commands that fetch it), and its
/// cached squeezes.
struct AdapterPage {
    let record: AdapterRecord
    let inspection: AdapterInspection
    let rank: Int
    let rankChoices: [Int]
    let cacheEntries: [CacheEntry]
    /// `scheme://host` as the browser reached the service, for copyable commands.
    let origin: String
    /// The deployment ranks vLLM accepts as `max_lora_rank`.
    static let vllmRanks = [1, 8, 16, 32, 64, 128, 256, 320, 512]
    /// Modules listed as losing most at the chosen rank.
    static let worstShown = 5

    var reference: String { record.names.first?.description ?? record.digest.hex }
    var maxSourceRank: Int { inspection.modules.map(\.rank).max() ?? 1 }

    /// The energy module `m` keeps at rank `k`.
    static func energy(_ m: AdapterInspection.Module, at k: Int) -> Double {
        EnergyPlot.Curve(name: m.name, values: Spectrum.cumulativeEnergy(m.singularValues)).energy(at: k)
    }

    /// Ranks the picker offers: vLLM's accepted ranks up to the largest source rank, the powers of
    /// two below it, and the source ranks themselves.
    static func choices(maxRank: Int, sourceRanks: [Int], limit: Int) -> [Int] {
        var set = Set(vllmRanks.filter { $0 <= max(maxRank, 1) })
        var k = 1
        while k <= maxRank { set.insert(k); k *= 2 }
        set.formUnion(sourceRanks)
        return set.filter { $0 >= 1 && $0 <= limit }.sorted()
    }

    func render(_ context: DashboardContext) -> HTML {
        let r = record
        let energies = inspection.modules.map { (module: $0, energy: Self.energy($0, at: rank)) }
        let mean = energies.isEmpty ? 1 : energies.reduce(0) { $0 + $1.energy } / Double(energies.count)
        let minimum = energies.map(\.energy).min() ?? 1
        let bytes = OutputSize.squeezed(sourceBytes: r.totalBytes, inspection, rank: rank, dtype: nil)
        let worst = energies.sorted { ($0.energy, $0.module.name) < ($1.energy, $1.module.name) }.prefix(Self.worstShown)
        let plot = EnergyPlot(modules: inspection.modules.map { ($0.name, $0.singularValues) }, chosenRank: rank,
                              marks: Self.vllmRanks)

        var names = HTML()
        for name in r.names { names += "<li><code>\(name.description)</code></li>" }
        let damaged: HTML = r.damaged ? "<p class=\"error\" role=\"alert\">A stored file of this adapter failed verification: its files are not served until the same content is uploaded again.</p>" : ""
        var options = HTML()
        for k in rankChoices {
            let selected: HTML = k == rank ? " selected" : ""
            let vllm: HTML = Self.vllmRanks.contains(k) ? " (vLLM)" : ""
            options += "<option value=\"\(k)\"\(selected)>\(k)\(vllm)</option>"
        }
        var worstRows = HTML()
        for w in worst {
            worstRows += "<tr><th scope=\"row\"><code>\(w.module.name)</code></th><td class=\"num\">\(w.module.rank)</td><td class=\"num\">\(DashboardFormat.percent(w.energy))</td></tr>"
        }
        var moduleRows = HTML()
        for (m, e) in energies {
            moduleRows += "<tr><th scope=\"row\"><code>\(m.name)</code></th><td>\(m.kind.rawValue)</td><td class=\"num\">\(m.outFeatures) × \(m.inFeatures)</td><td class=\"num\">\(m.rank)</td><td>\(m.dtype)</td><td class=\"num\">\(DashboardFormat.decimal(m.alpha, digits: 4))</td><td class=\"num\">\(DashboardFormat.decimal(m.scale, digits: 4))</td><td class=\"num\">\(DashboardFormat.percent(e))</td></tr>"
        }
        return DashboardLayout.page(title: reference, section: .adapters, context: context, """
            <p class="crumbs"><a href="/ui/adapters">Adapters</a> /</p>
            <h1>\(reference)</h1>
            \(damaged)
            <dl class="facts">
            <dt>Names</dt><dd>\(r.names.isEmpty ? "none" : "")<ul class="names">\(names)</ul></dd>
            <dt>Digest</dt><dd><code class="digest">\(r.digest.hex)</code></dd>
            <dt>Base model</dt><dd>\(r.baseModel ?? "–")</dd>
            <dt>Format</dt><dd>\(r.format.rawValue)</dd>
            <dt>Modules</dt><dd>\(r.moduleCount), source rank \(rankSummary)</dd>
            <dt>Size</dt><dd>\(DashboardFormat.bytes(r.totalBytes))</dd>
            <dt>Created</dt><dd>\(DashboardFormat.time(r.createdAt, now: context.now))</dd>
            </dl>
            <section aria-labelledby="h-rank">
            <h2 id="h-rank">At rank \(rank)</h2>
            <form class="rank-picker" method="get" action="/ui/adapters/\(DashboardFormat.pathSegment(reference, keepingSlash: true))">
            <label for="rank">Deployment rank</label>
            <select id="rank" name="rank" data-autosubmit>\(options)</select>
            <button type="submit">Show</button>
            </form>
            <dl class="figures">
            <div><dt>Mean energy kept</dt><dd id="mean-energy">\(DashboardFormat.percent(mean))</dd></div>
            <div><dt>Lowest module</dt><dd id="min-energy">\(DashboardFormat.percent(minimum))</dd></div>
            <div><dt>Squeezed size</dt><dd id="rank-bytes" title="at most \(String(bytes)) bytes">≤ \(DashboardFormat.bytes(bytes))</dd></div>
            </dl>
            <div class="table-wrap"><table class="worst">
            <caption>Modules that lose most at rank \(rank)</caption>
            <thead><tr><th scope="col">Module</th><th scope="col" class="num">Source rank</th><th scope="col" class="num">Energy kept</th></tr></thead>
            <tbody>\(worstRows)</tbody></table></div>
            \(commands(context))
            </section>
            <section aria-labelledby="h-spectrum">
            <h2 id="h-spectrum">Energy kept by rank</h2>
            <figure class="plot">\(plot.svg)
            <figcaption>One thin line per module; <span class="key mean">mean</span> and <span class="key minimum">minimum</span> over modules; dashed: ranks vLLM accepts as <code>max_lora_rank</code>; <span class="key chosen">rank \(rank)</span>. Also as <a href="/v1/adapters/\(r.digest.hex)/spectrum">JSON</a>.</figcaption>
            </figure>
            </section>
            \(cacheSection(context))
            <section aria-labelledby="h-modules">
            <h2 id="h-modules">Modules</h2>
            <div class="table-wrap"><table class="modules">
            <caption>\(inspection.modules.count) modules, energy kept at rank \(rank)</caption>
            <thead><tr><th scope="col">Module</th><th scope="col">Kind</th><th scope="col" class="num">Shape (out × in)</th><th scope="col" class="num">Rank</th><th scope="col">Dtype</th><th scope="col" class="num">Alpha</th><th scope="col" class="num">Scale</th><th scope="col" class="num">Energy kept</th></tr></thead>
            <tbody>\(moduleRows)</tbody></table></div>
            </section>
            """)
    }

    var rankSummary: String {
        let ranks = inspection.modules.map(\.rank)
        guard let low = ranks.min(), let high = ranks.max() else { return "–" }
        return low == high ? "\(low)" : "\(low)–\(high)"
    }

    private func commands(_ context: DashboardContext) -> HTML {
        let ref = DashboardFormat.pathSegment(reference, keepingSlash: true)
        let base = "\(origin)/v1/adapters/\(ref)/squeezed/\(rank)"
        let auth = context.authEnabled ? " -H \"Authorization: Bearer $LSQ_TOKEN\"" : ""
        let hfToken = context.authEnabled ? " HF_TOKEN=$LSQ_TOKEN" : ""
        var files = "mkdir -p \(Self.directoryName(reference))-r\(rank) && cd \(Self.directoryName(reference))-r\(rank)\n"
        let fileNames = record.format == .peft ? ["adapter_config.json", "adapter_model.safetensors"] : ["adapter_model.safetensors"]
        for file in fileNames { files += "curl -fSLO\(auth) \(base)/\(file)\n" }
        let hub = "HF_ENDPOINT=\(origin)/hub/r\(rank)\(hfToken) huggingface-cli download \(reference)"
        let peft = """
            HF_ENDPOINT=\(origin)/hub/r\(rank)\(hfToken) python -c '
            from peft import PeftModel; from transformers import AutoModelForCausalLM
            model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("\(record.baseModel ?? "BASE")"), "\(reference)")'
            """
        let vllm = "HF_ENDPOINT=\(origin)/hub/r\(rank)\(hfToken) vllm serve \(record.baseModel ?? "BASE") --enable-lora --max-lora-rank \(Self.vllmRanks.first { $0 >= rank } ?? rank) --lora-modules \(Self.directoryName(reference))=\(reference)"
        func block(_ id: String, _ title: String, _ text: String) -> HTML {
            "<div class=\"command\"><h3 id=\"\(id)-h\">\(title)</h3><pre id=\"\(id)\" aria-labelledby=\"\(id)-h\"><code>\(text)</code></pre><button type=\"button\" data-copy=\"\(id)\">Copy</button></div>"
        }
        let note: HTML = Self.vllmRanks.contains(rank) ? "" : "<p class=\"note\">vLLM pads rank \(rank) up to its next accepted rank, \(Self.vllmRanks.first { $0 >= rank } ?? rank).</p>"
        return """
            <h3 class="commands-title">Fetch it at rank \(rank)</h3>
            \(note)
            \(block("cmd-curl", "curl (a PEFT directory)", files))
            \(block("cmd-hub", "huggingface_hub", hub))
            \(block("cmd-peft", "PEFT", peft))
            \(block("cmd-vllm", "vLLM", vllm))
            """
    }

    private func cacheSection(_ context: DashboardContext) -> HTML {
        guard !cacheEntries.isEmpty else {
            return "<section aria-labelledby=\"h-cache\"><h2 id=\"h-cache\">Cached squeezes</h2><p class=\"empty\">None yet: the first request for a rank computes it.</p></section>"
        }
        var rows = HTML()
        for e in cacheEntries {
            let what: HTML = e.base != nil ? "merged shard" : "rank \(e.key.rank)"
            let options = e.key.options.isEmpty ? "defaults" : e.key.options
            let pinned: HTML = e.pinned ? "<span class=\"badge\">pinned</span>" : "no"
            let download: HTML = e.base == nil
                ? "<a href=\"/v1/blobs/\(e.weightsBlob.hex)\" download=\"adapter_model.safetensors\">weights</a>\(e.configBlob.map { " · <a href=\"/v1/blobs/\($0.hex)\" download=\"adapter_config.json\">config</a>" as HTML } ?? "")"
                : "<a href=\"/v1/blobs/\(e.weightsBlob.hex)\">shard</a>"
            rows += "<tr><th scope=\"row\">\(what)</th><td><code>\(options)</code></td><td class=\"num\">\(DashboardFormat.bytes(e.bytes))</td><td>\(pinned)</td><td class=\"num\">\(e.hitCount)</td><td>\(DashboardFormat.time(e.lastUsedAt, now: context.now))</td><td>\(download)</td></tr>"
        }
        return """
            <section aria-labelledby="h-cache">
            <h2 id="h-cache">Cached squeezes</h2>
            <div class="table-wrap"><table class="cache">
            <caption>\(cacheEntries.count) cached form\(cacheEntries.count == 1 ? "" : "s") of this adapter</caption>
            <thead><tr><th scope="col">What</th><th scope="col">Options</th><th scope="col" class="num">Size</th><th scope="col">Pinned</th><th scope="col" class="num">Hits</th><th scope="col">Last used</th><th scope="col">Download</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            </section>
            """
    }

    /// A directory or module-alias name from an adapter name: `team-a/chat-v2` → `chat-v2`.
    static func directoryName(_ reference: String) -> String {
        String(reference.split(separator: "/").last ?? Substring(reference))
    }
}
