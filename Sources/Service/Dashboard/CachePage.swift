import Foundation
import Store

/// `/ui/cache`: what the squeeze cache holds against its budget, its hit rate and evictions (the
/// numbers `/metrics` reports), and its entries by last use.
struct CachePage {
    let counters: CacheCounters
    let budget: Int64
    let pinnedCap: Int64
    let entries: [CacheEntry]
    let names: [SHA256Digest: [AdapterName]]
    let total: Int
    let offset: Int
    let limit: Int

    var hitRate: Double? {
        let asked = counters.hits + counters.misses
        return asked == 0 ? nil : Double(counters.hits) / Double(asked)
    }

    func render(_ context: DashboardContext) -> HTML {
        let used = budget > 0 ? Double(counters.bytes) / Double(budget) : 0
        var rows = HTML()
        for e in entries {
            let name = names[e.key.adapter]?.first
            let adapter: HTML = "<a href=\"\(DashboardFormat.adapterPath(name: name, digest: e.key.adapter.hex))\">\(name?.description ?? String(e.key.adapter.hex.prefix(12)))</a>"
            let what: HTML = e.base != nil ? "merged shard" : "rank \(e.key.rank)"
            let pinned: HTML = e.pinned ? "<span class=\"badge\">pinned</span>" : "no"
            rows += "<tr><th scope=\"row\">\(adapter)</th><td>\(what)</td><td><code>\(e.key.options.isEmpty ? "defaults" : e.key.options)</code></td><td class=\"num\">\(DashboardFormat.bytes(e.bytes))</td><td>\(pinned)</td><td class=\"num\">\(e.hitCount)</td><td>\(DashboardFormat.time(e.createdAt, now: context.now))</td><td>\(DashboardFormat.time(e.lastUsedAt, now: context.now))</td></tr>"
        }
        let table: HTML = entries.isEmpty
            ? "<p class=\"empty\">The cache is empty: a squeeze is computed on its first request and kept here.</p>"
            : """
                <div class="table-wrap"><table class="cache">
                <caption>\(total) entr\(total == 1 ? "y" : "ies"), most recently used first</caption>
                <thead><tr><th scope="col">Adapter</th><th scope="col">What</th><th scope="col">Options</th><th scope="col" class="num">Size</th><th scope="col">Pinned</th><th scope="col" class="num">Hits</th><th scope="col">Computed</th><th scope="col">Last used</th></tr></thead>
                <tbody>\(rows)</tbody></table></div>
                """
        let pager = DashboardLayout.pager(path: "/ui/cache", query: [], offset: offset, limit: limit, total: total)
        return DashboardLayout.page(title: "Cache", section: .cache, context: context, """
            <h1>Cache</h1>
            <dl class="figures">
            <div><dt>Entries</dt><dd id="cache-entries">\(counters.entries)</dd></div>
            <div><dt>Size</dt><dd id="cache-bytes">\(DashboardFormat.bytes(counters.bytes)) of \(DashboardFormat.bytes(budget))</dd></div>
            <div><dt>Pinned</dt><dd id="cache-pinned">\(DashboardFormat.bytes(counters.pinnedBytes)) of \(DashboardFormat.bytes(pinnedCap))</dd></div>
            <div><dt>Hit rate</dt><dd id="cache-hit-rate">\(hitRate.map { DashboardFormat.percent($0) } ?? "–") <span class="ago">(\(counters.hits) hits, \(counters.misses) misses)</span></dd></div>
            <div><dt>Evictions</dt><dd id="cache-evictions">\(counters.evictions)</dd></div>
            </dl>
            <p><label for="cache-use">Budget used</label> <meter id="cache-use" min="0" max="1" low="0.8" high="0.95" optimum="0.5" value="\(String(format: "%.4f", min(used, 1)))">\(DashboardFormat.percent(used))</meter> \(DashboardFormat.percent(used))</p>
            <p class="note">Hits, misses and evictions count since this process started, as in <a href="/metrics">/metrics</a>.</p>
            \(table)
            \(pager)
            """)
    }
}
