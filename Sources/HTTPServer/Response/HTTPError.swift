/// An error a handler throws to answer with a problem (RFC 9457): the status, a stable type slug,
/// and a detail a client can act on. Any other error thrown by a handler becomes a 500 whose detail
/// does not leak the error's text.
public struct HTTPError: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: HTTPStatus
    /// The last segment of the problem type, e.g. "not-found" for "/problems/not-found".
    public var type: String
    public var detail: String
    /// Extra response fields, such as `Allow` for 405.
    public var headers: HTTPHeaders

    public init(_ status: HTTPStatus, type: String, detail: String, headers: HTTPHeaders = [:]) {
        self.status = status
        self.type = type
        self.detail = detail
        self.headers = headers
    }

    public var description: String { "\(status.code) \(type): \(detail)" }

    public static func badRequest(_ detail: String) -> HTTPError {
        HTTPError(.badRequest, type: "bad-request", detail: detail)
    }

    public static func notFound(_ detail: String) -> HTTPError {
        HTTPError(.notFound, type: "not-found", detail: detail)
    }

    public static func methodNotAllowed(_ method: HTTPMethod, path: String, allowed: [HTTPMethod]) -> HTTPError {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        return HTTPError(.methodNotAllowed, type: "method-not-allowed",
                         detail: "\(method) is not allowed on \(path); allowed: \(allow)", headers: ["Allow": allow])
    }

    public static func contentTooLarge(limit: Int) -> HTTPError {
        HTTPError(.contentTooLarge, type: "content-too-large",
                  detail: "the request body is larger than the \(limit) bytes this resource accepts")
    }

    /// The handler did not answer within `HTTPLimits.handlerTimeout`.
    static let handlerTimeout = HTTPError(.serviceUnavailable, type: "handler-timeout",
                                          detail: "the request took too long to process; try again later")

    static let internalError = HTTPError(.internalServerError, type: "internal-error",
                                         detail: "the server failed to process the request; see the server log")

    static func requestTimeout(_ detail: String) -> HTTPError {
        HTTPError(.requestTimeout, type: "request-timeout", detail: detail)
    }

    init(_ parseError: HTTPParseError) {
        self.init(parseError.status, type: parseError.slug, detail: parseError.description)
    }
}
