import HTTPServer
import Store

/// The dashboard's stylesheet and script, embedded in the binary (no CDN, no build step), served
/// with an ETag so a browser revalidates them with a 304.
enum DashboardAssets {
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: String
        let etag: String

        init(_ bytes: [UInt8], _ contentType: String) {
            self.bytes = bytes
            self.contentType = contentType
            etag = "\"" + ((try? SHA256.hash(bytes))?.hex.prefix(32).description ?? "0") + "\""
        }
    }

    static let files: [String: Asset] = [
        "dashboard.css": Asset(PackageResources.dashboard_css, "text/css; charset=utf-8"),
        "dashboard.js": Asset(PackageResources.dashboard_js, "text/javascript; charset=utf-8"),
    ]

    static func response(_ request: HTTPRequest) throws -> HTTPResponse {
        let name = request.pathParameters["file"] ?? ""
        guard let asset = files[name] else {
            throw HTTPError(.notFound, type: "not-found", detail: "no dashboard asset \(name)")
        }
        var response = HTTPResponse.segments([.bytes(asset.bytes)], contentType: asset.contentType, etag: asset.etag, request: request)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
    }
}
