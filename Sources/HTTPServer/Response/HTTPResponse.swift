/// A response: status, fields and a body. The server adds Date, Content-Length or Transfer-Encoding,
/// Connection and X-Request-Id; those set here are replaced.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: HTTPResponseBody

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: HTTPResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Bytes with a content type.
    public static func bytes(_ bytes: [UInt8], contentType: String = "application/octet-stream",
                             status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .bytes(bytes))
    }

    /// UTF-8 text.
    public static func text(_ text: String, status: HTTPStatus = .ok) -> HTTPResponse {
        .bytes(Array(text.utf8), contentType: "text/plain; charset=utf-8", status: status)
    }

    /// A JSON document already encoded.
    public static func json(_ json: String, status: HTTPStatus = .ok) -> HTTPResponse {
        .bytes(Array(json.utf8), contentType: "application/json", status: status)
    }

    /// A chunked (or fixed-length, with `length`) body written by `produce`.
    public static func stream(contentType: String = "application/octet-stream", length: Int? = nil,
                              status: HTTPStatus = .ok,
                              _ produce: @escaping @Sendable (HTTPBodyWriter) async throws -> Void) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .stream(length: length, produce))
    }

    public static func redirect(to location: String, status: HTTPStatus = .seeOther) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Location": location])
    }

    public static func status(_ status: HTTPStatus) -> HTTPResponse {
        HTTPResponse(status: status)
    }
}
