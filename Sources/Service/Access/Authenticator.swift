import Foundation
import HTTPServer
import Locking
import Store

/// Decides who a request is: reads `Authorization: Bearer …`, looks the token's SHA-256 up (an
/// indexed catalog search, cached for `AuthLimits.recordTTL`), checks expiry, revocation and scope,
/// and limits failed attempts per remote address. Unknown, expired, revoked and malformed tokens
/// all get the same 401, so a guesser learns nothing from the answer.
final class Authenticator: Sendable {
    let enabled: Bool
    let metricsNeedToken: Bool
    let limits: AuthLimits
    let limiter: AuthFailureLimiter
    private let store: CatalogExecutor
    private let metrics: ServiceMetrics

    private struct Cached {
        let record: TokenRecord
        let fetched: ContinuousClock.Instant
    }
    private let records = Locked<[SHA256Digest: Cached]>([:])
    /// Hashes of tokens that authenticated, and when (see `AuthLimits.knownGoodPass`).
    private let knownGood = Locked<[SHA256Digest: ContinuousClock.Instant]>([:])
    /// Last uses not yet written (the upkeep loop writes them: a request never writes).
    private let uses = Locked<[TokenID: Date]>([:])

    static let realm = "lora-squeeze"

    /// A valid token without the scope a route needs: a 403, and still an attempt by a known
    /// caller, so a write or admin route audits it.
    struct ScopeRefusal: Error {
        let caller: Caller
        let error: HTTPError
    }

    init(enabled: Bool, metricsNeedToken: Bool, limits: AuthLimits, store: CatalogExecutor,
         metrics: ServiceMetrics) {
        self.enabled = enabled
        self.metricsNeedToken = metricsNeedToken
        self.limits = limits
        self.limiter = AuthFailureLimiter(limits: limits)
        self.store = store
        self.metrics = metrics
    }

    /// The caller of `request` on a route with `access`, or the 401, 403 or 429 to answer.
    func authorize(_ request: HTTPRequest, access: RouteAccess) async throws -> Caller {
        guard let needed = access.neededScope(metricsNeedToken: metricsNeedToken) else { return .anonymous }
        guard enabled else { return .unrestricted }
        let values = request.head.headers.values("Authorization")
        guard !values.isEmpty else {
            metrics.authFailure("missing")
            throw Self.missing(needed)
        }
        let token = values.count == 1 ? Self.bearerToken(values[0], limit: limits.maxCredentialBytes) : nil
        let record = try await authenticate(token, from: request.remoteAddress?.host ?? "unknown")
        guard record.scope.includes(needed) else {
            metrics.authFailure("insufficient_scope")
            throw ScopeRefusal(caller: Caller(token: record, scope: record.scope),
                               error: Self.insufficientScope(needed, has: record.scope))
        }
        return Caller(token: record, scope: record.scope)
    }

    /// The record of a well-formed `token` (nil: the credential was not of the token's form) that
    /// authenticates now; otherwise the one 401, or 429 when `address` has spent its failure budget.
    /// Bearer headers and the dashboard's sign-in form both come here, under one failure budget.
    func authenticate(_ token: String?, from address: String) async throws -> TokenRecord {
        let hash = try token.map { try AccessToken.hash($0) }
        if let wait = limiter.retryAfter(address), !(hash.map(isKnownGood) ?? false) {
            metrics.authFailure("rate_limited")
            throw Self.tooManyFailures(retryAfter: wait)
        }
        guard let hash else { throw fail(address, reason: "malformed") }
        guard let record = try await lookUp(hash) else { throw fail(address, reason: "unknown") }
        if let refusal = record.refusal(at: Date()) {
            _ = knownGood.withLock { $0.removeValue(forKey: hash) }
            throw fail(address, reason: refusal.rawValue)
        }
        remember(hash, record.id)
        return record
    }

    /// Forgets every cached token record: the next request reads the catalog (after a revocation).
    func forgetCachedTokens() {
        records.withLock { $0.removeAll() }
        knownGood.withLock { $0.removeAll() }
    }

    /// The last uses gathered since the previous call, for the upkeep loop to write.
    func takeUses() -> [TokenID: Date] {
        uses.withLock { uses in
            defer { uses.removeAll() }
            return uses
        }
    }

    /// The token of an `Authorization` value `Bearer <token>` (scheme case-insensitive, RFC 6750
    /// §2.1; spaces around and between), nil for any other form or a value over `limit` bytes. Bytes,
    /// not Foundation: this runs on every authenticated request.
    static func bearerToken(_ value: String, limit: Int) -> String? {
        guard value.utf8.count <= limit else { return nil }
        var utf8 = Substring(value).utf8
        let space = UInt8(ascii: " ")
        while utf8.first == space { utf8 = utf8.dropFirst() }
        while utf8.last == space { utf8 = utf8.dropLast() }
        let scheme = Array("bearer".utf8)
        guard utf8.count > scheme.count,
              zip(utf8.prefix(scheme.count), scheme).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        var rest = utf8.dropFirst(scheme.count)
        guard rest.first == space else { return nil }
        while rest.first == space { rest = rest.dropFirst() }
        let token = String(Substring(rest))
        return AccessToken.isWellFormed(token) ? token : nil
    }

    // MARK: Private

    private func lookUp(_ hash: SHA256Digest) async throws -> TokenRecord? {
        let now = ContinuousClock.now
        if let cached = records.withLock({ $0[hash] }), now - cached.fetched < limits.recordTTL { return cached.record }
        guard let record = try await store.read({ try $0.token(secretHash: hash) }) else { return nil }
        let capacity = limits.maxCachedTokens
        records.withLock { records in
            if records.count >= capacity { records.removeAll() }
            records[hash] = Cached(record: record, fetched: now)
        }
        return record
    }

    private func isKnownGood(_ hash: SHA256Digest) -> Bool {
        guard let time = knownGood.withLock({ $0[hash] }) else { return false }
        return ContinuousClock.now - time < limits.knownGoodPass
    }

    private func remember(_ hash: SHA256Digest, _ id: TokenID) {
        let capacity = limits.maxCachedTokens
        knownGood.withLock { good in
            if good.count >= capacity { good.removeAll() }
            good[hash] = .now
        }
        uses.withLock { $0[id] = Date() }
    }

    private func fail(_ address: String, reason: String) -> HTTPError {
        metrics.authFailure(reason)
        limiter.recordFailure(address)
        return Self.invalidToken
    }

    // MARK: Answers

    static func missing(_ needed: TokenScope) -> HTTPError {
        HTTPError(.unauthorized, type: "unauthenticated",
                  detail: "this request needs a token with scope \(needed.rawValue): send Authorization: Bearer <token>",
                  headers: ["WWW-Authenticate": "Bearer realm=\"\(realm)\""])
    }

    /// The one answer for an unknown, expired, revoked or malformed token.
    static let invalidToken = HTTPError(
        .unauthorized, type: "invalid-token",
        detail: "the token was not accepted: it is unknown, expired or revoked, or not of the form Authorization: Bearer lsq_…",
        headers: ["WWW-Authenticate": "Bearer realm=\"\(realm)\", error=\"invalid_token\""])

    static func insufficientScope(_ needed: TokenScope, has: TokenScope) -> HTTPError {
        HTTPError(.forbidden, type: "insufficient-scope",
                  detail: "this request needs a token with scope \(needed.rawValue); this token has scope \(has.rawValue)",
                  headers: ["WWW-Authenticate": "Bearer realm=\"\(realm)\", error=\"insufficient_scope\", scope=\"\(needed.rawValue)\""])
    }

    static func tooManyFailures(retryAfter wait: Duration) -> HTTPError {
        let seconds = max(1, Int(wait.seconds.rounded(.up)))
        return HTTPError(.tooManyRequests, type: "too-many-auth-failures",
                         detail: "too many failed authentications from this address; try again in \(seconds) s",
                         headers: ["Retry-After": "\(seconds)"])
    }
}
