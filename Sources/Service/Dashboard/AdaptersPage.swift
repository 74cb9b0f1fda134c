import Foundation
import SqueezeEngine
import Store

/// `/ui/adapters`: every adapter the visitor may see, newest first, filtered by name prefix and base
/// model and paged as `GET /v1/adapters` is; with a write token, a selection to normalize.
struct AdaptersPage {
    struct Row {
        let record: AdapterRecord
        /// The smallest and largest module rank, when the description could be read.
        let ranks: ClosedRange<Int>?
        let dtypes: [String]
    }

    let rows: [Row]
    let total: Int
    let offset: Int
    let limit: Int
    let prefix: String
    let baseModel: String
    let baseModels: [(baseModel: String, adapters: Int)]

    func render(_ context: DashboardContext) -> HTML {
        var options: HTML = "<option value=\"\">any</option>"
        for base in baseModels {
            let selected: HTML = base.baseModel == baseModel ? " selected" : ""
            options += "<option value=\"\(base.baseModel)\"\(selected)>\(base.baseModel) (\(base.adapters))</option>"
        }
        let filters: HTML = """
            <form class="filters" method="get" action="/ui/adapters" role="search">
            <label for="f-prefix">Name prefix</label>
            <input id="f-prefix" name="prefix" value="\(prefix)" placeholder="team-a/" autocomplete="off" spellcheck="false">
            <label for="f-base">Base model</label>
            <select id="f-base" name="base_model" data-autosubmit>\(options)</select>
            <button type="submit">Filter</button>
            </form>
            """
        let select = context.canWrite
        var body = HTML()
        for row in rows {
            let r = row.record
            let link = DashboardFormat.adapterPath(name: r.names.first, digest: r.digest.hex)
            var names: HTML = "<a href=\"\(link)\">\(DashboardFormat.shortDigest(r.digest.hex))</a>"
            if let first = r.names.first {
                names = "<a href=\"\(link)\">\(first.description)</a>"
                for other in r.names.dropFirst() { names += "<br><span class=\"alias\">\(other.description)</span>" }
            }
            let check: HTML = select
                ? "<td><input type=\"checkbox\" name=\"adapter\" value=\"\(r.digest.hex)\" aria-label=\"Select \(r.names.first?.description ?? r.digest.hex)\" form=\"normalize-selection\"></td>"
                : ""
            let ranks = row.ranks.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)–\($0.upperBound)" } ?? "–"
            let damaged: HTML = r.damaged ? " <span class=\"badge bad\">damaged</span>" : ""
            body += """
                <tr>\(check)<th scope="row">\(names)\(damaged)</th><td class="opt">\(DashboardFormat.shortDigest(r.digest.hex))</td><td>\(r.baseModel ?? "–")</td><td class="opt">\(r.format.rawValue)</td><td class="num">\(ranks)</td><td class="opt">\(row.dtypes.joined(separator: ", "))</td><td class="num">\(DashboardFormat.bytes(r.totalBytes))</td><td class="num opt">\(r.moduleCount)</td><td>\(DashboardFormat.time(r.createdAt, now: context.now))</td></tr>
                """
        }
        let checkHead: HTML = select ? "<th scope=\"col\"><span class=\"visually-hidden\">Select</span></th>" : ""
        let table: HTML = rows.isEmpty
            ? "<p class=\"empty\">No adapters\(prefix.isEmpty && baseModel.isEmpty ? "" : " match these filters") yet. Upload one with <code>curl -F adapter_config.json=@… -F adapter_model.safetensors=@… /v1/adapters?name=…</code>.</p>"
            : """
                <div class="table-wrap"><table class="adapters">
                <caption>\(total) adapter\(total == 1 ? "" : "s")\(prefix.isEmpty ? "" : " named \(prefix)…")\(baseModel.isEmpty ? "" : " on \(baseModel)")</caption>
                <thead><tr>\(checkHead)<th scope="col">Name</th><th scope="col" class="opt">Digest</th><th scope="col">Base model</th><th scope="col" class="opt">Format</th><th scope="col" class="num">Source rank</th><th scope="col" class="opt">Dtype</th><th scope="col" class="num">Size</th><th scope="col" class="num opt">Modules</th><th scope="col">Created</th></tr></thead>
                <tbody>\(body)</tbody>
                </table></div>
                """
        let selectionForm: HTML = select && !rows.isEmpty
            ? "<form id=\"normalize-selection\" method=\"get\" action=\"/ui/normalize\" class=\"actions\"><button type=\"submit\">Normalize the selected adapters…</button> <a href=\"/ui/normalize?prefix=\(DashboardFormat.query(prefix))\">or every adapter named \(prefix.isEmpty ? "anything" : prefix + "…")</a></form>"
            : ""
        let pager = DashboardLayout.pager(path: "/ui/adapters", query: [("prefix", prefix), ("base_model", baseModel)],
                                          offset: offset, limit: limit, total: total)
        return DashboardLayout.page(title: "Adapters", section: .adapters, context: context, """
            <h1>Adapters</h1>
            \(filters)
            \(table)
            \(pager)
            \(selectionForm)
            """)
    }
}
