import HTTPServer
import Logging
import Store

extension AdapterService {
    /// Every route of the API (documented in openapi.json), behind the access log.
    public func makeHandler() -> any HTTPHandler {
        makeRouteTable().router.with(AccessLogMiddleware(logger: logger))
    }

    /// The (method, OpenAPI path) of every registered route, for the spec test.
    public var registeredRoutes: [(method: String, path: String)] { makeRouteTable().routes }

    func makeRouteTable() -> RouteTable {
        var table = RouteTable(metrics: metrics, logger: logger)
        addAdapterRoutes(&table)
        addSqueezeRoutes(&table)
        addInsightRoutes(&table)
        addJobRoutes(&table)
        addOperationsRoutes(&table)
        return table
    }

    /// Resolves `{ref}` (a digest or a name) to its record.
    func record(_ request: HTTPRequest) async throws -> AdapterRecord {
        let reference = request.pathParameters["ref"] ?? ""
        return try await store.read { try $0.resolve(reference) }
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
