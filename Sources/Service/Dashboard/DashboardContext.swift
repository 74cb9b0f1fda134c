import Foundation
import HTTPServer

/// What a page handler knows about its request beyond the request itself: who is asking, the CSRF
/// token its forms carry, the nonce its script runs under, and the time it renders at.
struct DashboardContext: Sendable {
    let visitor: DashboardSessions.Visitor
    /// A fresh random nonce per response: the only script the Content-Security-Policy lets run.
    let nonce: String
    let now: Date
    let authEnabled: Bool

    /// The caller of a page that needs one (the route's wrapper has checked it is there).
    var caller: Caller { visitor.caller ?? .anonymous }

    /// Whether the visitor may submit the dashboard's forms (normalize): a write token.
    var canWrite: Bool { visitor.caller?.scope.map { $0.includes(.write) } ?? false }

    var csrfField: HTML { "<input type=\"hidden\" name=\"csrf\" value=\"\(visitor.csrfToken)\">" }

    static func newNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
    }
}

/// The headers every dashboard page carries. The policy allows the page's own stylesheet, images
/// and fetches, and only the script that holds this response's nonce: an injected `<script>` or
/// `onclick` does not run even if escaping ever failed.
enum DashboardHeaders {
    static func contentSecurityPolicy(nonce: String) -> String {
        "default-src 'none'; script-src 'nonce-\(nonce)'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    }

    static func apply(to response: inout HTTPResponse, nonce: String) {
        response.headers["Content-Security-Policy"] = contentSecurityPolicy(nonce: nonce)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if response.headers["Cache-Control"] == nil { response.headers["Cache-Control"] = "no-store" }
    }
}
