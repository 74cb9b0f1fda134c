import Foundation
import HTTPServer
import Locking
import Store

/// Who a browser is. Every browser gets a cookie holding a 256-bit random secret; signing in with a
/// token records the secret's SHA-256 in the catalog (`ui_sessions`) with that token, so the cookie
/// then acts with the token's scope and namespace, and stops the moment the token is revoked or
/// expires. The secret itself is never stored, and a new one is issued at sign-in and at sign-out
/// (no session fixation).
///
/// Forms carry a CSRF token derived from the secret (SHA-256 of a label and the secret): a page of
/// another site can neither read the `HttpOnly`, `SameSite=Strict` cookie nor compute the token.
final class DashboardSessions: Sendable {
    let enabled: Bool
    let limits: DashboardLimits
    private let store: CatalogExecutor
    private let cache = Locked<[SHA256Digest: (record: SessionRecord?, fetched: ContinuousClock.Instant)]>([:])

    /// The cookie: `__Host-` over TLS (the browser then insists on Secure, Path=/ and no Domain, so
    /// no other host of the domain can set it), a plain name over HTTP, where `__Host-` is refused.
    static func cookieName(secure: Bool) -> String { secure ? "__Host-lsq_session" : "lsq_session" }
    static let secretLength = 64

    init(enabled: Bool, limits: DashboardLimits, store: CatalogExecutor) {
        self.enabled = enabled
        self.limits = limits
        self.store = store
    }

    /// A browser as a request shows it.
    struct Visitor: Sendable {
        /// The cookie's secret (a new one when the request had none, or one not of its form).
        let secret: String
        /// Whether the response must set the cookie.
        let isNew: Bool
        /// Who the browser acts as: everyone with authentication off, the session's token when
        /// signed in, nil when not.
        let caller: Caller?
        let session: SessionRecord?

        var csrfToken: String { DashboardSessions.csrfToken(secret) }
    }

    func visitor(_ request: HTTPRequest) async throws -> Visitor {
        let name = Self.cookieName(secure: request.isSecure)
        guard let secret = request.cookie(name), Self.isWellFormed(secret) else {
            return Visitor(secret: Self.newSecret(), isNew: true, caller: enabled ? nil : .unrestricted, session: nil)
        }
        guard enabled else { return Visitor(secret: secret, isNew: false, caller: .unrestricted, session: nil) }
        let session = try await lookUp(try SHA256.hash(Array(secret.utf8)))
        guard let session, session.isValid(at: Date()) else {
            return Visitor(secret: secret, isNew: false, caller: nil, session: nil)
        }
        return Visitor(secret: secret, isNew: false, caller: Caller(token: session.token, scope: session.token.scope),
                       session: session)
    }

    /// Records a session for `token` under a new secret, which the caller sets as the cookie.
    func signIn(_ token: TokenRecord) async throws -> (secret: String, session: SessionRecord) {
        let secret = Self.newSecret()
        let hash = try SHA256.hash(Array(secret.utf8))
        var expires = Date().addingTimeInterval(limits.sessionLifetime.seconds)
        if let tokenExpiry = token.expiresAt { expires = min(expires, tokenExpiry) }
        let (id, until) = (token.id, expires)
        try await store.write { try $0.createSession(secretHash: hash, token: id, expiresAt: until) }
        let session = SessionRecord(token: token, createdAt: Date(), expiresAt: expires)
        return (secret, session)
    }

    /// Ends the session of `secret`, if it is one, here at once (other replicas within `sessionTTL`).
    func signOut(_ secret: String) async throws {
        guard Self.isWellFormed(secret) else { return }
        let hash = try SHA256.hash(Array(secret.utf8))
        cache.withLock { _ = $0.removeValue(forKey: hash) }
        try await store.write { try $0.deleteSession(secretHash: hash) }
    }

    /// The `Set-Cookie` value for `secret`, lasting the session's lifetime.
    func cookie(_ secret: String, secure: Bool) throws -> String {
        try SetCookie(name: Self.cookieName(secure: secure), value: secret, maxAge: Int(limits.sessionLifetime.seconds),
                      httpOnly: true, secure: secure, sameSite: .strict).headerValue
    }

    /// Whether `submitted` is the CSRF token of `secret` (compared without an early exit).
    static func checkCSRF(_ submitted: String?, secret: String) -> Bool {
        guard let submitted else { return false }
        let expected = Array(csrfToken(secret).utf8), given = Array(submitted.utf8)
        guard expected.count == given.count else { return false }
        return zip(expected, given).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func csrfToken(_ secret: String) -> String {
        ((try? SHA256.hash(Array("lora-squeeze dashboard csrf\0\(secret)".utf8)))?.hex) ?? ""
    }

    static func isWellFormed(_ secret: String) -> Bool {
        secret.utf8.count == secretLength && secret.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef".utf8)
        return String(decoding: (0..<secretLength).map { _ in hex[Int.random(in: 0..<16, using: &generator)] }, as: UTF8.self)
    }

    private func lookUp(_ hash: SHA256Digest) async throws -> SessionRecord? {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[hash] }), now - cached.fetched < limits.sessionTTL { return cached.record }
        let record = try await store.read { try $0.session(secretHash: hash) }
        let capacity = limits.maxCachedSessions
        cache.withLock { cache in
            if cache.count >= capacity { cache.removeAll() }
            cache[hash] = (record, now)
        }
        return record
    }
}
