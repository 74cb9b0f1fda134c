/// A request as a handler sees it: the parsed head, a streaming body, and what the server adds.
public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: HTTPRequestBody
    /// Values of the route's `:name` segments, percent-decoded.
    public var pathParameters: [String: String] = [:]
    /// The client's well-formed `X-Request-Id`, or a generated one; echoed on the response.
    public var requestID: String
    /// The peer's address, when known.
    public var remoteAddress: SocketAddress?
    /// Whether the request arrived over TLS (a cookie it sets may then be `Secure`).
    public var isSecure = false

    public init(head: HTTPRequestHead, body: HTTPRequestBody = .empty, requestID: String = RequestID.generate(),
                remoteAddress: SocketAddress? = nil) {
        self.head = head
        self.body = body
        self.requestID = requestID
        self.remoteAddress = remoteAddress
    }

    public var method: HTTPMethod { head.method }
    public var headers: HTTPHeaders { head.headers }
    /// The path, still percent-encoded.
    public var path: String { head.path }

    /// The decoded values of query parameter `name` (`+` read as space, as HTML forms send it).
    public func queryValues(_ name: String) -> [String] {
        guard let query = head.query else { return [] }
        return query.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = PercentDecoding.decode(String(parts[0]), plusAsSpace: true), key == name else { return nil }
            return parts.count > 1 ? PercentDecoding.decode(String(parts[1]), plusAsSpace: true) : ""
        }
    }

    public func queryValue(_ name: String) -> String? { queryValues(name).first }
}
