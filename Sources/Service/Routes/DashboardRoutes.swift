import Foundation
import HTTPServer
import SqueezeEngine
import Store

/// The web dashboard (`/`, `/ui/…`): server-rendered pages over the same catalog and service calls
/// as the API. Pages authenticate by the session cookie (`DashboardSessions`); forms post
/// `application/x-www-form-urlencoded` with a CSRF token; every page carries a nonce'd
/// Content-Security-Policy and a `Server-Timing` of its render.
extension AdapterService {
    /// A page route without a signed-in session, with authentication on: answered by a redirect to sign in.
    struct SignInRequired: Error {}

    /// A page handler: the request, its context, and the form when the method is POST.
    typealias PageHandler = @Sendable (HTTPRequest, DashboardContext, FormBody?) async throws -> HTTPResponse

    func addDashboardRoutes(_ t: inout RouteTable) {
        let home = HTTPResponse.redirect(to: "/ui/adapters")
        t.addOpen(.get, "/", immediate: { _ in home }) { _ in home }
        t.addOpen(.get, "/ui/assets/:file", immediate: { request in try DashboardAssets.response(request) }) { request in
            try DashboardAssets.response(request)
        }

        addPage(&t, .get, "/ui/adapters", access: .scope(.read)) { [self] request, context, _ in
            let limit = dashboardLimits.pageSize
            let offset = try Self.intQuery(request, "offset", default: 0, range: 0...Int.max)
            let prefix = request.queryValue("prefix") ?? "", base = request.queryValue("base_model") ?? ""
            let query = AdapterQuery(limit: limit, offset: offset, namePrefix: prefix.isEmpty ? nil : prefix,
                                     baseModel: base.isEmpty ? nil : base, namespace: context.caller.namespace)
            let namespace = context.caller.namespace
            let (page, bases) = try await store.read { (try $0.list(query), try $0.baseModels(namespace: namespace)) }
            let rows = page.items.map { record -> AdaptersPage.Row in
                let inspection = try? inspections.inspection(record)
                let ranks = inspection?.modules.map(\.rank)
                return AdaptersPage.Row(record: context.caller.view(record),
                                        ranks: ranks.flatMap { r in r.min().flatMap { low in r.max().map { low...$0 } } },
                                        dtypes: Array(Set(inspection?.modules.map(\.dtype) ?? [])).sorted())
            }
            return Self.html(AdaptersPage(rows: rows, total: page.total, offset: offset, limit: limit, prefix: prefix,
                                          baseModel: base, baseModels: bases).render(context))
        }

        addPage(&t, .get, "/ui/adapters/:ref", access: .scope(.read), named: true) { [self] request, context, _ in
            let r = try await record(request, context.caller)
            let inspection = try inspections.inspection(r)
            let maxSource = inspection.modules.map(\.rank).max() ?? 1
            let choices = AdapterPage.choices(maxRank: maxSource, sourceRanks: inspection.modules.map(\.rank), limit: limits.maxRank)
            let rank = try Self.intQuery(request, "rank", default: min(16, maxSource), range: 1...limits.maxRank)
            let digest = r.digest
            let entries = try await store.read { try $0.cacheEntries(for: digest) }
            let host = request.headers["Host"] ?? "localhost"
            let page = AdapterPage(record: r, inspection: inspection, rank: rank,
                                   rankChoices: choices.contains(rank) ? choices : (choices + [rank]).sorted(),
                                   cacheEntries: entries, origin: (request.isSecure ? "https://" : "http://") + host)
            return Self.html(page.render(context))
        }

        addPage(&t, .get, "/ui/cache", access: .scope(.read)) { [self] request, context, _ in
            let limit = dashboardLimits.pageSize
            let offset = try Self.intQuery(request, "offset", default: 0, range: 0...Int.max)
            let namespace = context.caller.namespace
            let (counters, page, names) = try await store.read { catalog in
                let page = try catalog.cacheEntries(namespace: namespace, limit: limit, offset: offset)
                return (try catalog.cacheCounters(), page, try catalog.names(of: page.items.map(\.key.adapter)))
            }
            let visible = names.mapValues(context.caller.visible)
            return Self.html(CachePage(counters: counters, budget: limits.cacheBudgetBytes, pinnedCap: limits.pinnedBytesCap,
                                       entries: page.items, names: visible, total: page.total, offset: offset,
                                       limit: limit).render(context))
        }

        addPage(&t, .get, "/ui/jobs", access: .scope(.read)) { [self] request, context, _ in
            let limit = dashboardLimits.pageSize
            let offset = try Self.intQuery(request, "offset", default: 0, range: 0...Int.max)
            let namespace = context.caller.namespace
            let page = try await store.read { try $0.jobs(namespace: namespace, limit: limit, offset: offset) }
            return Self.html(JobsPage(jobs: page.items, total: page.total, offset: offset, limit: limit).render(context))
        }

        addPage(&t, .get, "/ui/jobs/:id", access: .scope(.read)) { [self] request, context, _ in
            let id = try JobID(validating: request.pathParameters["id"] ?? "")
            let namespace = context.caller.namespace
            guard let (job, items, names) = try await store.read({ catalog -> (JobRecord, [JobItem], [SHA256Digest: [AdapterName]])? in
                guard let job = try catalog.job(id), namespace == nil || job.namespace == namespace else { return nil }
                let items = try catalog.jobItems(id)
                return (job, items, try catalog.names(of: items.compactMap { try? SHA256Digest($0.subject) }))
            }) else {
                throw HTTPError(.notFound, type: "not-found", detail: "no job \(id)")
            }
            let visible = names.mapValues(context.caller.visible)
            return Self.html(JobPage(job: job, items: items, names: visible).render(context))
        }

        addPage(&t, .get, "/ui/normalize", access: .scope(.write)) { [self] request, context, _ in
            Self.html(try await normalizePage(prefix: request.queryValue("prefix") ?? "", selected: request.queryValues("adapter"),
                                              rank: try Self.intQuery(request, "rank", default: 16, range: 1...limits.maxRank),
                                              error: nil, context: context).render(context))
        }

        addPage(&t, .post, "/ui/normalize", access: .scope(.write)) { [self] _, context, form in
            let selected = form?.values("adapter") ?? []
            let prefix = form?.value("prefix") ?? ""
            guard let rankText = form?.value("rank"), let rank = Int(rankText) else {
                throw ServiceError.badRequest("choose a rank", type: "invalid-rank")
            }
            let method = form?.value("method").flatMap { $0.isEmpty ? nil : $0 }
            let body = selected.isEmpty
                ? (prefix.isEmpty ? NormalizeRequest(all: true, rank: rank, method: method)
                                  : NormalizeRequest(prefix: prefix, rank: rank, method: method))
                : NormalizeRequest(adapters: selected, rank: rank, method: method)
            let job = try await createNormalizeJob(body, caller: context.caller)
            return .redirect(to: "/ui/jobs/\(job.id)")
        }

        addPage(&t, .get, "/ui/sign-in", access: .open) { request, context, _ in
            Self.html(SignInPage(next: SignInPage.safeNext(request.queryValue("next")), error: nil).render(context))
        }

        addPage(&t, .post, "/ui/sign-in", access: .open) { [self] request, context, form in
            let next = SignInPage.safeNext(form?.value("next"))
            guard context.authEnabled else { return .redirect(to: next) }
            let candidate = form?.value("token").map { $0.trimmingCharacters(in: .whitespaces) }
            let token: TokenRecord
            do {
                token = try await authenticator.authenticate(candidate.flatMap { AccessToken.isWellFormed($0) ? $0 : nil },
                                                             from: request.remoteAddress?.host ?? "unknown")
            } catch let refusal as HTTPError {
                let detail = refusal.status.code == 429 ? refusal.detail
                    : "That token was not accepted: it is unknown, expired or revoked, or not of the form lsq_…"
                var response = Self.html(SignInPage(next: next, error: detail).render(context), status: refusal.status)
                if let retry = refusal.headers["Retry-After"] { response.headers["Retry-After"] = retry }
                return response
            }
            let (secret, _) = try await sessions.signIn(token)
            logger.info("dashboard sign-in", metadata: ["token-id": "\(token.id.rawValue)", "token-name": "\(token.name)",
                                                         "request-id": "\(request.requestID)"])
            var response = HTTPResponse.redirect(to: next)
            response.headers["Set-Cookie"] = try sessions.cookie(secret, secure: request.isSecure)
            return response
        }

        addPage(&t, .post, "/ui/sign-out", access: .open) { [self] request, context, _ in
            try await sessions.signOut(context.visitor.secret)
            var response = HTTPResponse.redirect(to: context.authEnabled ? "/ui/sign-in" : "/ui/adapters")
            response.headers["Set-Cookie"] = try sessions.cookie(DashboardSessions.newSecret(), secure: request.isSecure)
            return response
        }
    }

    var dashboardLimits: DashboardLimits { configuration.dashboardLimits }

    /// The normalize page for a selection: resolves it as the job would, reads the spectra of up to
    /// `DashboardLimits.previewAdapters` of its adapters, and sums what each candidate rank keeps.
    func normalizePage(prefix: String, selected: [String], rank: Int, error: String?,
                       context: DashboardContext) async throws -> NormalizePage {
        var records: [AdapterRecord] = []
        var matched = 0
        let preview = dashboardLimits.previewAdapters
        if selected.isEmpty {
            let query = AdapterQuery(limit: min(preview, AdapterQuery.maxLimit), offset: 0,
                                     namePrefix: prefix.isEmpty ? nil : prefix, namespace: context.caller.namespace)
            let page = try await store.read { try $0.list(query) }
            records = page.items
            matched = page.total
        } else {
            guard selected.count <= limits.maxJobAdapters else {
                throw ServiceError.badRequest("\(selected.count) adapters are selected; a job takes at most \(limits.maxJobAdapters)", type: "invalid-job")
            }
            for ref in selected.prefix(preview) { records.append(try await visibleRecord(ref, context.caller)) }
            matched = selected.count
        }
        let inspected = records.compactMap { r in (try? inspections.inspection(r)).map { ($0, r.totalBytes) } }
        let maxSource = inspected.flatMap { $0.0.modules.map(\.rank) }.max() ?? 16
        let ranks = NormalizePage.candidateRanks(maxRank: maxSource, limit: limits.maxRank)
        return NormalizePage(prefix: prefix, selected: selected, matched: matched, previewed: min(records.count, matched),
                             candidates: NormalizePage.candidates(inspected, ranks: ranks),
                             chosenRank: ranks.contains(rank) ? rank : (ranks.last { $0 <= 16 } ?? ranks.first ?? rank),
                             error: error)
    }

    static func html(_ page: HTML, status: HTTPStatus = .ok) -> HTTPResponse {
        .bytes(page.bytes, contentType: "text/html; charset=utf-8", status: status)
    }

    /// Registers a page: the caller from the session cookie (a redirect to sign in when a scope is
    /// needed and there is no session), a POST's form read and its CSRF token and `Sec-Fetch-Site`
    /// checked, the cookie set for a new browser, and the security headers and `Server-Timing` added.
    private func addPage(_ t: inout RouteTable, _ method: HTTPMethod, _ pattern: String, access: RouteAccess,
                         named: Bool = false, _ handler: @escaping PageHandler) {
        let (sessions, limits, authEnabled) = (self.sessions, dashboardLimits, configuration.access.enabled)
        let authorize: @Sendable (HTTPRequest) async throws -> Caller = { request in
            let visitor = try await sessions.visitor(request)
            guard let needed = access.neededScope(metricsNeedToken: false) else { return visitor.caller ?? .anonymous }
            guard let caller = visitor.caller else { throw SignInRequired() }
            guard let scope = caller.scope, scope.includes(needed) else {
                throw Authenticator.ScopeRefusal(caller: caller, error: HTTPError(
                    .forbidden, type: "insufficient-scope",
                    detail: "this page needs a token with scope \(needed.rawValue); you signed in with scope \(caller.scope?.rawValue ?? "none")"))
            }
            return caller
        }
        let render: @Sendable (any Error, HTTPRequest) -> HTTPResponse = { error, request in
            Self.errorPage(error, request: request, authEnabled: authEnabled)
        }
        let body: @Sendable (HTTPRequest, Caller) async throws -> HTTPResponse = { request, _ in
            let start = ContinuousClock.now
            let visitor = try await sessions.visitor(request)
            let context = DashboardContext(visitor: visitor, nonce: DashboardContext.newNonce(), now: Date(), authEnabled: authEnabled)
            var form: FormBody?
            if method == .post {
                if let site = request.headers["Sec-Fetch-Site"], site != "same-origin", site != "none" {
                    throw HTTPError(.forbidden, type: "cross-site-form", detail: "a form of another site (Sec-Fetch-Site: \(site)) cannot post here")
                }
                let bytes = try await request.body.collect(upTo: limits.maxFormBytes)
                do { form = try FormBody(parsing: bytes) } catch {
                    throw ServiceError.badRequest("the form could not be read: \(error)", type: "invalid-form")
                }
                guard !visitor.isNew, DashboardSessions.checkCSRF(form?.value("csrf"), secret: visitor.secret) else {
                    throw HTTPError(.forbidden, type: "csrf", detail: "the form's CSRF token does not match this browser's session; reload the page and submit it again")
                }
            }
            var response = try await handler(request, context, form)
            if visitor.isNew, response.headers["Set-Cookie"] == nil {
                response.headers["Set-Cookie"] = try sessions.cookie(visitor.secret, secure: request.isSecure)
            }
            DashboardHeaders.apply(to: &response, nonce: context.nonce)
            let elapsed = ContinuousClock.now - start
            response.headers["Server-Timing"] = String(format: "render;dur=%.2f", elapsed.seconds * 1000)
            return response
        }
        let maxBody = method == .post ? limits.maxFormBytes : nil
        t.addPage(method, pattern, access: access, maxBodyBytes: maxBody, authorize: authorize, render: render, body)
        if named {
            t.addPage(method, RouteTable.namespaced(pattern), access: access, maxBodyBytes: maxBody, authorize: authorize,
                      render: render, body)
        }
    }

    /// What a page answers for an error: sign in first, or a page saying what went wrong.
    static func errorPage(_ error: any Error, request: HTTPRequest, authEnabled: Bool) -> HTTPResponse {
        if error is SignInRequired {
            // A browser (it asks for HTML) is sent to sign in; any other client is told it needs a session.
            let signIn = "/ui/sign-in?next=" + DashboardFormat.query(SignInPage.safeNext(request.head.target))
            if request.headers.listValues("Accept").contains(where: { $0.lowercased().hasPrefix("text/html") }) {
                return .redirect(to: signIn)
            }
            var response = html(DashboardLayout.error(status: 401, title: "Sign in first",
                                                      detail: "this page needs a dashboard session: sign in at \(signIn) with a token",
                                                      context: nil), status: .unauthorized)
            DashboardHeaders.apply(to: &response, nonce: DashboardContext.newNonce())
            return response
        }
        var problem = SecretRedaction.redact(ServiceError.http(error))
        if let refusal = error as? Authenticator.ScopeRefusal { problem = refusal.error }
        let page = DashboardLayout.error(status: problem.status.code, title: problem.status.reasonPhrase,
                                         detail: problem.detail, context: nil)
        var response = html(page, status: problem.status)
        for field in problem.headers where field.name.lowercased() == "retry-after" { response.headers["Retry-After"] = field.value }
        DashboardHeaders.apply(to: &response, nonce: DashboardContext.newNonce())
        return response
    }
}
