import HTTPServer
import Logging
import Store

extension AdapterService {
    /// Every route of the API (documented in openapi.json), behind the access log.
    public func makeHandler() -> any HTTPHandler {
        makeRouteTable().router.with(RedactingMiddleware())
            .with(AccessLogMiddleware(logger: logger, redact: SecretRedaction.redact))
    }

    /// The (method, OpenAPI path) of every registered route, for the spec test.
    public var registeredRoutes: [(method: String, path: String)] { makeRouteTable().routes.map { ($0.method, $0.path) } }

    /// The (method, OpenAPI path, scope) of every registered route: the scope a token needs, "open",
    /// or "metrics" (open unless `--metrics-auth`).
    public var routeScopes: [(method: String, path: String, access: String)] {
        makeRouteTable().routes.map { ($0.method, $0.path, $0.access.description) }
    }

    func makeRouteTable() -> RouteTable {
        var table = RouteTable(metrics: metrics, logger: logger, authenticator: authenticator,
                               audit: AuditTrail(store: store, logger: logger), sessions: sessions)
        addAdapterRoutes(&table)
        addSqueezeRoutes(&table)
        addBaseRoutes(&table)
        addMergedRoutes(&table)
        addInsightRoutes(&table)
        addJobRoutes(&table)
        addOperationsRoutes(&table)
        addAccessRoutes(&table)
        addHubRoutes(&table)
        addAnnealRoutes(&table)
        addDashboardRoutes(&table)
        return table
    }

    /// Resolves `{ref}` (a digest or a name) to its record, as `caller` may see it: a caller limited
    /// to a namespace finds only adapters with a name there, by that name or by digest, and gets the
    /// same 404 as for a missing adapter otherwise (it learns nothing of other teams).
    func record(_ request: HTTPRequest, _ caller: Caller) async throws -> AdapterRecord {
        try await visibleRecord(request.pathParameters["ref"] ?? "", caller)
    }

    func visibleRecord(_ text: String, _ caller: Caller) async throws -> AdapterRecord {
        let reference = try AdapterReference(parsing: text)
        if let namespace = caller.namespace, case .name(let name) = reference, !name.isIn(namespace: namespace) {
            throw CatalogError.unknownReference(text)
        }
        let record = try await store.read { try $0.resolve(reference) }
        guard caller.sees(record) else { throw CatalogError.unknownReference(text) }
        return caller.view(record)
    }

    /// Long-lived caching for URLs whose content can never change: an adapter's own files and
    /// renderings addressed by the adapter's digest. A name can move, so those revalidate.
    static func cacheControl(_ request: HTTPRequest, _ record: AdapterRecord) -> String {
        request.pathParameters["ref"] == record.digest.hex ? immutable : "no-cache"
    }

    /// Squeezed and merged files: named by adapter and parameters, not by content, and a squeeze
    /// recomputed after eviction (another CPU, another BLAS kernel) may differ in the last bits — so
    /// they always revalidate (their ETag is the content's SHA-256, so an unchanged file is a 304).
    /// `Content-Location` names the content-addressed URL, which is immutable.
    static let computedCacheControl = "no-cache"
}
