import Foundation
import Store

/// Makes tokens: the secret from `AccessToken.generate`, its hash recorded in the catalog. The
/// secret is returned once, to be shown once; it is not kept anywhere. Used by `POST /v1/tokens`,
/// `lora-squeeze token create` and the first start's admin token.
public enum TokenIssuer {
    /// A new token and its record. Throws `CatalogError.invalidToken` for a refused name or namespace.
    public static func issue(in catalog: AdapterCatalog, name: String, scope: TokenScope, namespace: String?,
                             lifetime: TokenLifetime?) throws -> (token: String, record: TokenRecord) {
        let token = AccessToken.generate()
        let expiry = lifetime.map { Date().addingTimeInterval(TimeInterval($0.seconds)) }
        let record = try catalog.createToken(secretHash: try AccessToken.hash(token), name: name, scope: scope,
                                             namespace: namespace, expiresAt: expiry)
        return (token, record)
    }

    /// Records `token` (a seed an operator made, e.g. with `lora-squeeze token generate`) as an
    /// unlimited admin token named `name`, unless it is recorded already.
    /// - Returns: the record, and whether it was created now.
    public static func install(_ token: String, in catalog: AdapterCatalog, name: String) throws -> (record: TokenRecord, created: Bool) {
        guard AccessToken.isWellFormed(token) else {
            throw CatalogError.invalidToken("the admin token seed is not of the form lsq_ and 43 characters of A-Z a-z 0-9 (make one with `lora-squeeze token generate`)")
        }
        let hash = try AccessToken.hash(token)
        if let existing = try catalog.token(secretHash: hash) { return (existing, false) }
        return (try catalog.createToken(secretHash: hash, name: name, scope: .admin, namespace: nil, expiresAt: nil), true)
    }

    /// Whether `text` has a token's shape.
    public static func isWellFormed(_ text: String) -> Bool { AccessToken.isWellFormed(text) }

    /// A fresh token's text for an operator to store in a Secret and seed with.
    public static func generate() -> String { AccessToken.generate() }
}

/// A token as the API and `token list --json` describe it: never the secret.
public struct TokenDescription: Encodable, Sendable {
    public let id: String
    public let name: String
    public let scope: String
    public let namespace: String?
    public let createdAt: String
    public let expiresAt: String?
    public let lastUsedAt: String?
    public let revokedAt: String?
    /// `active`, `expired` or `revoked`.
    public let state: String

    public init(_ record: TokenRecord, now: Date = Date()) {
        let f = Date.ISO8601FormatStyle()
        id = record.id.rawValue
        name = record.name
        scope = record.scope.rawValue
        namespace = record.namespace
        createdAt = record.createdAt.formatted(f)
        expiresAt = record.expiresAt.map { $0.formatted(f) }
        lastUsedAt = record.lastUsedAt.map { $0.formatted(f) }
        revokedAt = record.revokedAt.map { $0.formatted(f) }
        state = record.refusal(at: now)?.rawValue ?? "active"
    }

    enum CodingKeys: String, CodingKey {
        case id, name, scope, namespace, createdAt, expiresAt, lastUsedAt, revokedAt, state
    }

    /// Every key present, absent values as null.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(scope, forKey: .scope)
        try c.encode(namespace, forKey: .namespace)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(lastUsedAt, forKey: .lastUsedAt)
        try c.encode(revokedAt, forKey: .revokedAt)
        try c.encode(state, forKey: .state)
    }
}

/// A token just made, as `POST /v1/tokens` and `token create --json` show it: its description and,
/// this once, the secret.
public struct CreatedToken: Encodable, Sendable {
    public let token: String
    public let description: TokenDescription

    public init(token: String, record: TokenRecord) {
        self.token = token
        description = TokenDescription(record)
    }

    enum CodingKeys: CodingKey { case token }

    public func encode(to encoder: any Encoder) throws {
        try description.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(token, forKey: .token)
    }
}
