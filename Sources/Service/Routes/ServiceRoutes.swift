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
    func record(_ request: HTTPRequest) throws -> AdapterRecord {
        try catalog.resolve(request.pathParameters["ref"] ?? "")
    }

    /// Long-lived caching for URLs addressed by digest (their content can never change); a name can
    /// move, so those revalidate.
    static func cacheControl(_ request: HTTPRequest, _ record: AdapterRecord) -> String {
        request.pathParameters["ref"] == record.digest.hex ? "public, max-age=31536000, immutable" : "no-cache"
    }
}
