import Foundation
import Store

/// `/ui/jobs`: jobs newest first with their progress.
struct JobsPage {
    let jobs: [JobRecord]
    let total: Int
    let offset: Int
    let limit: Int

    static func stateBadge(_ state: JobState) -> HTML {
        "<span class=\"state state-\(state.rawValue)\">\(state.rawValue)</span>"
    }

    static func progress(_ job: JobRecord) -> HTML {
        "<progress max=\"\(max(job.total, 1))\" value=\"\(job.done)\" aria-label=\"\(job.done) of \(job.total) done\">\(job.done) of \(job.total)</progress> <span class=\"num\">\(job.done)/\(job.total)</span>"
    }

    func render(_ context: DashboardContext) -> HTML {
        var rows = HTML()
        for job in jobs {
            rows += "<tr><th scope=\"row\"><a href=\"/ui/jobs/\(job.id.description)\"><code>\(String(job.id.description.prefix(12)))</code></a></th><td>\(job.kind)</td><td>\(Self.stateBadge(job.state))</td><td>\(Self.progress(job))</td><td>\(DashboardFormat.time(job.createdAt, now: context.now))</td><td>\(DashboardFormat.time(job.updatedAt, now: context.now))</td></tr>"
        }
        let table: HTML = jobs.isEmpty
            ? "<p class=\"empty\">No jobs yet.\(context.canWrite ? " Start one from <a href=\"/ui/normalize\">Normalize</a>." as HTML : "")</p>"
            : """
                <div class="table-wrap"><table class="jobs">
                <caption>\(total) job\(total == 1 ? "" : "s"), newest first</caption>
                <thead><tr><th scope="col">Job</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Created</th><th scope="col">Updated</th></tr></thead>
                <tbody>\(rows)</tbody></table></div>
                """
        let pager = DashboardLayout.pager(path: "/ui/jobs", query: [], offset: offset, limit: limit, total: total)
        return DashboardLayout.page(title: "Jobs", section: .jobs, context: context, "<h1>Jobs</h1>\(table)\(pager)")
    }
}

/// `/ui/jobs/{id}`: one job's state and progress, and each item's outcome; while it runs the page
/// refreshes itself (the script swaps in the new `<main>`; without script, a meta refresh).
struct JobPage {
    let job: JobRecord
    let items: [JobItem]
    let names: [SHA256Digest: [AdapterName]]

    var isFinished: Bool { job.state == .succeeded || job.state == .failed }

    func render(_ context: DashboardContext) -> HTML {
        var rows = HTML()
        let extract = job.kind == AdapterService.extractKind
        for item in items {
            let subject: HTML
            if !extract, let digest = try? SHA256Digest(item.subject) {
                let name = names[digest]?.first
                subject = "<a href=\"\(DashboardFormat.adapterPath(name: name, digest: item.subject))\">\(name?.description ?? String(item.subject.prefix(12)))</a>"
            } else {
                subject = "<code>\(item.subject)</code>"
            }
            var outcome = HTML()
            if let error = item.error { outcome = "<span class=\"error\">\(error)</span>" }
            else if !extract, let result = NormalizeOutcome(item).urls {
                for (file, url) in result.sorted(by: { $0.key < $1.key }) where url.hasPrefix("/") {
                    outcome += "<a href=\"\(url)\">\(file)</a> "
                }
            }
            rows += "<tr data-status=\"\(item.status.rawValue)\"><th scope=\"row\">\(subject)</th><td><span class=\"state state-\(item.status.rawValue)\">\(item.status.rawValue)</span></td><td>\(outcome)</td></tr>"
        }
        let error: HTML = job.error.map { "<p class=\"error\" role=\"alert\">\($0)</p>" } ?? ""
        let request = (try? JSONDecoder().decode(NormalizeRequest.self, from: Data(job.request.utf8)))
        let summary: HTML = request.map { r in
            "<dt>Target rank</dt><dd>\(r.rank)\(r.method.map { ", method \($0)" } ?? "")\(r.dtype.map { ", \($0)" } ?? "")</dd>" as HTML
        } ?? ""
        let title = "Job \(job.id.description.prefix(12))"
        return DashboardLayout.page(title: title, section: .jobs, context: context,
                                    mainAttributes: isFinished ? " data-state=\"\(job.state.rawValue)\"" : " data-poll=\"1\" data-state=\"\(job.state.rawValue)\"",
                                    refreshWithoutScript: !isFinished, """
            <p class="crumbs"><a href="/ui/jobs">Jobs</a> /</p>
            <h1>\(title)</h1>
            <dl class="facts">
            <dt>Kind</dt><dd>\(job.kind)</dd>
            <dt>State</dt><dd id="job-state" aria-live="polite">\(JobsPage.stateBadge(job.state))</dd>
            <dt>Progress</dt><dd>\(JobsPage.progress(job))</dd>
            \(summary)
            <dt>Created</dt><dd>\(DashboardFormat.time(job.createdAt, now: context.now))</dd>
            <dt>Updated</dt><dd>\(DashboardFormat.time(job.updatedAt, now: context.now))</dd>
            </dl>
            \(error)
            <div class="table-wrap"><table class="items">
            <caption>\(items.count) item\(items.count == 1 ? "" : "s")</caption>
            <thead><tr><th scope="col">\(extract ? "Module" : "Adapter")</th><th scope="col">Status</th><th scope="col">Outcome</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            <p class="note">Also as <a href="/v1/jobs/\(job.id.description)">JSON</a>.</p>
            """)
    }
}
