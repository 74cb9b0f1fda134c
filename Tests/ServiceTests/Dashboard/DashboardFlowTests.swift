import AdapterFormats
import Foundation
@testable import Service
import Testing
import TestSupport

/// The dashboard over real HTTP: pages, escaping of hostile strings, the security headers, sign-in
/// and sign-out, CSRF and cross-site refusals, what a read token may not do, a normalize job started
/// from the form, and the session cookie on the API's read routes.
@Suite("Dashboard end to end")
struct DashboardFlowTests {
    /// A browser: keeps the session cookie the server sets, and reads CSRF tokens off pages.
    final class Browser: @unchecked Sendable {
        let client: HTTPTestClient
        var cookie: String?

        init(_ s: RunningService) { client = s.anonymous }

        func request(_ method: String, _ target: String, form: [(String, String)]? = nil,
                     headers: [(String, String)] = []) async throws -> HTTPTestResponse {
            var all = headers
            if !all.contains(where: { $0.0 == "Accept" }) { all.append(("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")) }
            if let cookie { all.append(("Cookie", cookie)) }
            var body: [UInt8]?
            if let form {
                all.append(("Content-Type", "application/x-www-form-urlencoded"))
                body = Array(form.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&").utf8)
            }
            let response = try await client.request(method, target, headers: all, body: body)
            if let set = response.header("Set-Cookie"), let pair = set.split(separator: ";").first { cookie = String(pair) }
            return response
        }

        func get(_ target: String) async throws -> HTTPTestResponse { try await request("GET", target) }

        static func encode(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
        }

        /// The CSRF token in a page's forms.
        static func csrf(_ page: HTTPTestResponse) throws -> String {
            let marker = "name=\"csrf\" value=\""
            let text = page.text
            let start = try #require(text.range(of: marker), "no CSRF field in \(text.prefix(300))")
            return String(text[start.upperBound...].prefix { $0 != "\"" })
        }
    }

    static let hostileBase = "<script>alert('base')</script>\"'\u{202E}evil"

    static func expectPage(_ r: HTTPTestResponse, _ status: Int = 200, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(r.status == status, "\(r.status) \(r.text.prefix(400))", sourceLocation: sourceLocation)
        #expect(r.header("Content-Type") == "text/html; charset=utf-8", sourceLocation: sourceLocation)
        let csp = try #require(r.header("Content-Security-Policy"), sourceLocation: sourceLocation)
        #expect(csp.contains("script-src 'nonce-") && csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
                sourceLocation: sourceLocation)
        #expect(r.header("X-Frame-Options") == "DENY" && r.header("X-Content-Type-Options") == "nosniff", sourceLocation: sourceLocation)
        // Every <script> carries this response's nonce, and there is no inline handler.
        let nonce = String(csp.split(separator: "'nonce-")[1].prefix { $0 != "'" })
        let scripts = r.text.components(separatedBy: "<script").count - 1
        #expect(r.text.components(separatedBy: "<script nonce=\"\(nonce)\"").count - 1 == scripts, sourceLocation: sourceLocation)
        #expect(!r.text.contains(" onerror=") && !r.text.contains(" onload=") && !r.text.contains(" onclick="), sourceLocation: sourceLocation)
    }

    @Test("with authentication off: every page renders, hostile strings are text, the plot has a curve per module")
    func pagesWithAuthOff() async throws {
        let hostile = try ServiceFixtures.peft(seed: 41, config: ["base_model_name_or_path": .string(Self.hostileBase)])
        let plain = try ServiceFixtures.peft(seed: 42)
        try await ServiceHarness.with({ $0.access.enabled = false }) { s in
            let a = try await s.uploadPEFT(hostile, name: "team-a/chat-v2")
            _ = try await s.uploadPEFT(plain, name: "team-b/summarize")
            let b = Browser(s)
            let home = try await b.get("/")
            #expect(home.status == 303 && home.header("Location") == "/ui/adapters")

            let list = try await b.get("/ui/adapters")
            try Self.expectPage(list)
            #expect(b.cookie?.hasPrefix("lsq_session=") == true, "a browser gets its cookie on the first page")
            #expect(list.text.contains("team-a/chat-v2") && list.text.contains("team-b/summarize"))
            #expect(!list.text.contains("<script>alert") && !list.text.contains("'base'"), "the hostile base model is escaped")
            #expect(list.text.contains("&lt;script&gt;alert(&#39;base&#39;)&lt;/script&gt;&quot;&#39;\u{202E}evil"))
            #expect(list.text.contains("Authentication is off"))
            #expect(list.text.contains("name=\"adapter\""), "with auth off, the selection to normalize is there")

            let filtered = try await b.get("/ui/adapters?base_model=" + Browser.encode(Self.hostileBase))
            try Self.expectPage(filtered)
            #expect(filtered.text.contains("team-a/chat-v2") && !filtered.text.contains("team-b/summarize"))
            let bad = try await b.get("/ui/adapters?prefix=%3Cscript%3Ex")
            try Self.expectPage(bad, 400)
            #expect(bad.text.contains("&lt;script&gt;x") && !bad.text.contains("<script>x"), "an error text is escaped too")

            let page = try await b.get("/ui/adapters/team-a/chat-v2?rank=4")
            try Self.expectPage(page)
            let modules = ServiceFixtures.modules.count
            #expect(page.text.contains("data-modules=\"\(modules)\""))
            #expect(page.text.components(separatedBy: "<polyline class=\"module\"").count - 1 == modules)
            #expect(page.text.contains("--max-lora-rank 8") && page.text.contains("/hub/r4"), "vLLM pads rank 4 to 8")
            #expect(page.text.contains("/v1/adapters/team-a/chat-v2/squeezed/4/adapter_model.safetensors"))
            #expect(try await b.get("/ui/adapters/\(a.digest)").status == 200)
            try Self.expectPage(try await b.get("/ui/adapters/team-a/missing"), 404)
            try Self.expectPage(try await b.get("/ui/adapters/team-a/chat-v2?rank=0"), 400)
            try Self.expectPage(try await b.get("/ui/adapters/team-a/chat-v2?rank=513"), 400)

            // A squeeze shows up in the adapter's cached squeezes and on the cache page.
            #expect(try await s.get("/v1/adapters/team-a/chat-v2/squeezed/4/adapter_model.safetensors").status == 200)
            let cached = try await b.get("/ui/adapters/team-a/chat-v2?rank=4")
            #expect(cached.text.contains("1 cached form of this adapter"))
            let cache = try await b.get("/ui/cache")
            try Self.expectPage(cache)
            #expect(cache.text.contains("id=\"cache-entries\">1<") && cache.text.contains("team-a/chat-v2"))
            try Self.expectPage(try await b.get("/ui/jobs"))
            try Self.expectPage(try await b.get("/ui/jobs/0123456789abcdef0123456789abcdef"), 404)
            try Self.expectPage(try await b.get("/ui/sign-in"))

            let css = try await b.get("/ui/assets/dashboard.css")
            #expect(css.status == 200 && css.header("Content-Type") == "text/css; charset=utf-8")
            let etag = try #require(css.header("ETag"))
            #expect(try await b.request("GET", "/ui/assets/dashboard.css", headers: [("If-None-Match", etag)]).status == 304)
            #expect(try await b.get("/ui/assets/dashboard.js").status == 200)
            #expect(try await b.get("/ui/assets/missing.js").status == 404)
        }
    }

    @Test("sign in, read-only pages for a read token, CSRF and cross-site refusals, sign out, revocation")
    func signInAndScopes() async throws {
        let files = try ServiceFixtures.peft(seed: 43)
        try await ServiceHarness.with { s in
            _ = try await s.uploadPEFT(files, name: "team-a/chat-v2")
            let read = try await s.createToken(name: "viewer", scope: "read")
            let b = Browser(s)
            let script = try await s.anonymous.get("/ui/adapters")
            try Self.expectPage(script, 401)
            #expect(script.text.contains("sign in at /ui/sign-in?next="), "a client that does not ask for HTML is told, not redirected")
            let first = try await b.get("/ui/adapters?prefix=team-a%2F")
            #expect(first.status == 303 && first.header("Location") == "/ui/sign-in?next=%2Fui%2Fadapters%3Fprefix%3Dteam-a%252F")
            let form = try await b.get(try #require(first.header("Location")))
            try Self.expectPage(form)
            let csrf = try Browser.csrf(form)
            let anonymousCookie = try #require(b.cookie)

            // No CSRF token, a wrong one, another site: refused, and nothing signed in.
            try Self.expectPage(try await b.request("POST", "/ui/sign-in", form: [("token", read.token)]), 403)
            try Self.expectPage(try await b.request("POST", "/ui/sign-in", form: [("token", read.token), ("csrf", String(repeating: "0", count: 64))]), 403)
            try Self.expectPage(try await b.request("POST", "/ui/sign-in", form: [("token", read.token), ("csrf", csrf)],
                                                    headers: [("Sec-Fetch-Site", "cross-site")]), 403)
            #expect(try await b.get("/ui/adapters").status == 303)
            // A wrong token: the form again, 401.
            let wrong = try await b.request("POST", "/ui/sign-in", form: [("token", TestTokens.make()), ("csrf", csrf)])
            try Self.expectPage(wrong, 401)
            #expect(wrong.text.contains("was not accepted"))

            let signedIn = try await b.request("POST", "/ui/sign-in", form: [("token", read.token), ("csrf", csrf), ("next", "/ui/cache")])
            #expect(signedIn.status == 303 && signedIn.header("Location") == "/ui/cache")
            let set = try #require(signedIn.header("Set-Cookie"))
            #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Max-Age=43200") && !set.contains("Secure"))
            #expect(b.cookie != anonymousCookie, "a new secret at sign-in")
            let list = try await b.get("/ui/adapters")
            try Self.expectPage(list)
            #expect(list.text.contains("team-a/chat-v2") && list.text.contains("Signed in with <strong>viewer</strong>"))
            #expect(!list.text.contains("name=\"adapter\"") && !list.text.contains("href=\"/ui/normalize\""), "a read token sees no forms")
            try Self.expectPage(try await b.get("/ui/normalize"), 403)
            try Self.expectPage(try await b.request("POST", "/ui/normalize", form: [("csrf", try Browser.csrf(list)), ("rank", "4")]), 403)

            // The cookie reads the API (GET), and never writes through it.
            #expect(try await b.get("/v1/adapters/team-a/chat-v2").status == 200)
            #expect(try await b.get("/v1/tokens").status == 403, "a read session is no admin")
            #expect(try await b.request("DELETE", "/v1/names/team-a/chat-v2").status == 401, "a cookie does not authorize a DELETE")

            // Sign out: the cookie is replaced and the old one no longer signs anything in.
            let oldCookie = try #require(b.cookie)
            let out = try await b.request("POST", "/ui/sign-out", form: [("csrf", try Browser.csrf(list))])
            #expect(out.status == 303 && out.header("Location") == "/ui/sign-in" && b.cookie != oldCookie)
            #expect(try await b.get("/ui/adapters").status == 303)
            b.cookie = oldCookie
            #expect(try await b.get("/ui/adapters").status == 303, "the signed-out session is gone")
            #expect(try await b.get("/v1/adapters").status == 401)

            // Revoking the token ends its sessions (within the cache's few seconds).
            b.cookie = nil
            let again = try await b.get("/ui/sign-in")
            #expect(try await b.request("POST", "/ui/sign-in", form: [("token", read.token), ("csrf", try Browser.csrf(again))]).status == 303)
            #expect(try await b.get("/ui/adapters").status == 200)
            #expect(try await s.client.request("DELETE", "/v1/tokens/\(read.id)").status == 204)
            try await Task.sleep(for: .milliseconds(5200))
            #expect(try await b.get("/ui/adapters").status == 303)
        }
    }

    @Test("a write session previews the fleet's energy by rank and starts a normalize job that succeeds")
    func normalizeFromTheForm() async throws {
        let one = try ServiceFixtures.peft(seed: 44), two = try ServiceFixtures.peft(seed: 45)
        try await ServiceHarness.with { s in
            _ = try await s.uploadPEFT(one, name: "team-a/one")
            let second = try await s.uploadPEFT(two, name: "team-a/two")
            _ = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 46), name: "team-b/other")
            let writer = try await s.createToken(name: "writer", scope: "write", namespace: "team-a")
            let b = Browser(s)
            let signIn = try await b.get("/ui/sign-in")
            #expect(try await b.request("POST", "/ui/sign-in", form: [("token", writer.token), ("csrf", try Browser.csrf(signIn))]).status == 303)

            let list = try await b.get("/ui/adapters")
            #expect(list.text.contains("team-a/two") && !list.text.contains("team-b/other"), "the namespace limits the list")
            let preview = try await b.get("/ui/normalize?prefix=team-a%2F&rank=8")
            try Self.expectPage(preview)
            #expect(preview.text.contains("What 2 adapters would keep"))
            #expect(preview.text.contains("<tr class=\"chosen\"><th scope=\"row\">8</th><td class=\"num\">"))
            // At rank 16 both adapters are whole: every figure is 100 %.
            #expect(preview.text.contains("<th scope=\"row\">16</th><td class=\"num\">100.00 %</td><td class=\"num\">100.00 %</td><td class=\"num\">100.00 %</td>"))
            let csrf = try Browser.csrf(preview)
            try Self.expectPage(try await b.request("POST", "/ui/normalize", form: [("prefix", "team-a/"), ("rank", "8")]), 403)
            try Self.expectPage(try await b.request("POST", "/ui/normalize", form: [("csrf", csrf), ("prefix", "team-a/"), ("rank", "x")]), 400)
            try Self.expectPage(try await b.request("POST", "/ui/normalize", form: [("csrf", csrf), ("prefix", "team-a/"), ("rank", "9999")]), 400)
            let started = try await b.request("POST", "/ui/normalize", form: [("csrf", csrf), ("prefix", "team-a/"), ("rank", "8"), ("method", "exact")])
            #expect(started.status == 303)
            let location = try #require(started.header("Location"))
            #expect(location.hasPrefix("/ui/jobs/"))
            var page = try await b.get(location)
            for _ in 0..<100 where !page.text.contains("data-state=\"succeeded\"") {
                try await Task.sleep(for: .milliseconds(100))
                page = try await b.get(location)
            }
            try Self.expectPage(page)
            #expect(page.text.contains("data-state=\"succeeded\"") && !page.text.contains("data-poll"), "\(page.text.prefix(2000))")
            #expect(page.text.contains("team-a/one") && page.text.contains("team-a/two"))
            #expect(page.text.components(separatedBy: "data-status=\"done\"").count - 1 == 2)
            let jobs = try await b.get("/ui/jobs")
            #expect(jobs.text.contains(String(location.dropFirst("/ui/jobs/".count).prefix(12))))
            // The selection form: chosen adapters by digest.
            let chosen = try await b.get("/ui/normalize?adapter=\(second.digest)")
            #expect(chosen.text.contains("1 adapter selected") && chosen.text.contains("value=\"\(second.digest)\""))
            // Audited as a write.
            let audit = try await s.get("/v1/audit").text
            #expect(audit.contains("POST /ui/normalize"))
        }
    }

    @Test("form bodies at the limit and one past; a form that is not URL-encoded UTF-8")
    func formLimits() async throws {
        try await ServiceHarness.with({ $0.access.enabled = false }) { s in
            _ = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 47), name: "one")
            let b = Browser(s)
            let page = try await b.get("/ui/normalize")
            let csrf = try Browser.csrf(page)
            let limit = DashboardLimits().maxFormBytes
            let head = "csrf=\(csrf)&rank=4&pad="
            let atLimit = head + String(repeating: "a", count: limit - head.utf8.count)
            var headers: [(String, String)] = [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", try #require(b.cookie))]
            let at = try await b.client.request("POST", "/ui/normalize", headers: headers, body: Array(atLimit.utf8))
            #expect(at.status == 303 || at.status == 400, "read whole: \(at.status) \(at.text.prefix(200))")
            let past = try await b.client.request("POST", "/ui/normalize", headers: headers, body: Array((atLimit + "a").utf8))
            #expect(past.status == 413, "\(past.status)")
            headers[0] = ("Content-Type", "application/x-www-form-urlencoded")
            let broken = try await b.client.request("POST", "/ui/normalize", headers: headers, body: Array("csrf=\(csrf)&rank=%ZZ".utf8))
            try Self.expectPage(broken, 400)
        }
    }
}
