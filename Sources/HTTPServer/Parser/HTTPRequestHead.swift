/// How a request body is delimited (RFC 9112 §6.3).
public enum HTTPBodyFraming: Sendable, Hashable {
    /// No body: neither Content-Length nor Transfer-Encoding (RFC 9112 §6.3 rule 7).
    case none
    /// Exactly this many bytes follow the head (RFC 9112 §6.3 rule 6).
    case contentLength(Int)
    /// Chunked transfer coding, ended by the last chunk and trailers (RFC 9112 §7.1).
    case chunked
}

/// A validated request line and header section.
public struct HTTPRequestHead: Sendable, Hashable {
    public var method: HTTPMethod
    /// The request-target exactly as received (RFC 9112 §3.2).
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var framing: HTTPBodyFraming
    /// Whether the connection may stay open after this exchange (RFC 9112 §9.3).
    public var keepAlive: Bool
    /// `Expect: 100-continue` was sent with a body (RFC 9110 §10.1.1).
    public var expectsContinue: Bool

    public init(method: HTTPMethod, target: String, version: HTTPVersion = .http1_1,
                headers: HTTPHeaders = [:], framing: HTTPBodyFraming = .none,
                keepAlive: Bool = true, expectsContinue: Bool = false) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
    }

    /// The path of the target, still percent-encoded: origin-form up to `?`, or the path of an
    /// absolute-form target (RFC 9112 §3.2.2); `*` and authority-form targets are returned as they are.
    public var path: String {
        var rest = Substring(target)
        if !rest.hasPrefix("/"), rest != "*", let colon = rest.firstIndex(of: ":"),
           rest[colon...].hasPrefix("://") {
            let authority = rest[rest.index(colon, offsetBy: 3)...]
            rest = authority.firstIndex(of: "/").map { authority[$0...] } ?? "/"
        }
        if let q = rest.firstIndex(of: "?") { rest = rest[..<q] }
        return String(rest)
    }

    /// The query of the target without the `?`, or nil when there is none.
    public var query: String? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: q)...])
    }

    /// The body length when it is known in advance.
    public var contentLength: Int? {
        if case .contentLength(let n) = framing { return n }
        return nil
    }

    /// True when the request carries a body (a non-empty fixed length, or chunked).
    public var hasBody: Bool {
        switch framing {
        case .none: false
        case .contentLength(let n): n > 0
        case .chunked: true
        }
    }
}
