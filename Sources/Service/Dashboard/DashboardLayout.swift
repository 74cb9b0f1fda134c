import Foundation
import HTTPServer

/// The shell every page shares: the document head (stylesheet, the nonce'd script), a skip link,
/// the navigation with the current page marked, who is signed in, and the page's `<main>`.
enum DashboardLayout {
    enum Section: String, CaseIterable {
        case adapters, cache, jobs, normalize

        var title: String {
            switch self {
            case .adapters: "Adapters"
            case .cache: "Cache"
            case .jobs: "Jobs"
            case .normalize: "Normalize"
            }
        }
    }

    /// - Parameter mainAttributes: extra attributes of `<main>` (the job page's `data-poll`).
    static func page(title: String, section: Section?, context: DashboardContext, mainAttributes: HTML = HTML(),
                     refreshWithoutScript: Bool = false, _ content: HTML) -> HTML {
        var nav = HTML()
        for item in Section.allCases where item != .normalize || context.canWrite {
            let current: HTML = item == section ? " aria-current=\"page\"" : ""
            nav += "<li><a href=\"/ui/\(item.rawValue)\"\(current)>\(item.title)</a></li>"
        }
        let refresh: HTML = refreshWithoutScript ? "<noscript><meta http-equiv=\"refresh\" content=\"3\"></noscript>" : ""
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · lora-squeeze</title>
            <link rel="stylesheet" href="/ui/assets/dashboard.css">
            <link rel="icon" href="data:,">
            \(refresh)<script nonce="\(context.nonce)" src="/ui/assets/dashboard.js" defer></script>
            </head>
            <body>
            <a class="skip" href="#main">Skip to content</a>
            <header class="top">
            <a class="brand" href="/ui/adapters">lora-squeeze</a>
            <nav aria-label="Sections"><ul>\(nav)</ul></nav>
            \(who(context))
            </header>
            <main id="main" tabindex="-1"\(mainAttributes)>
            \(content)
            </main>
            <footer><a href="/openapi.json">API</a> · <a href="/metrics">metrics</a> · times in UTC</footer>
            </body>
            </html>
            """
    }

    private static func who(_ context: DashboardContext) -> HTML {
        guard context.authEnabled else {
            return "<p class=\"who warn\">Authentication is off: everyone may do everything.</p>"
        }
        guard let session = context.visitor.session else { return "" }
        let token = session.token
        let namespace: HTML = token.namespace.map { "namespace <code>\($0)</code>, " } ?? ""
        return """
            <form class="who" method="post" action="/ui/sign-out">\(context.csrfField)<span>Signed in with <strong>\(token.name)</strong> (\(namespace)scope \(token.scope.rawValue))</span> <button type="submit">Sign out</button></form>
            """
    }

    /// A page that says what went wrong (an error from a page route), with the status it answers.
    static func error(status: Int, title: String, detail: String, context: DashboardContext?) -> HTML {
        let body: HTML = """
            <h1>\(title)</h1>
            <p class="error" role="alert">\(detail)</p>
            <p><a href="/ui/adapters">Back to the adapters</a></p>
            """
        guard let context else {
            return """
                <!DOCTYPE html>
                <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>\(title) · lora-squeeze</title><link rel="stylesheet" href="/ui/assets/dashboard.css"><link rel="icon" href="data:,"></head>
                <body><main id="main">\(body)</main></body></html>
                """
        }
        return page(title: title, section: nil, context: context, body)
    }

    /// Pagination links for a listing at `offset` of `total` (`query` keeps the filters).
    static func pager(path: String, query: [(String, String)], offset: Int, limit: Int, total: Int) -> HTML {
        guard total > limit else { return "" }
        func link(_ to: Int) -> String {
            let items = query.filter { !$0.1.isEmpty } + [("offset", String(to))]
            return path + "?" + items.map { "\(DashboardFormat.query($0.0))=\(DashboardFormat.query($0.1))" }.joined(separator: "&")
        }
        var parts = HTML()
        if offset > 0 { parts += "<a rel=\"prev\" href=\"\(link(max(0, offset - limit)))\">← Newer</a>" }
        parts += "<span>\(offset + 1)–\(min(offset + limit, total)) of \(total)</span>"
        if offset + limit < total { parts += "<a rel=\"next\" href=\"\(link(offset + limit))\">Older →</a>" }
        return "<nav class=\"pager\" aria-label=\"Pages\">\(parts)</nav>"
    }
}
