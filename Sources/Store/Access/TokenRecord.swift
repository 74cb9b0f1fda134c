import Foundation

/// A token as the catalog keeps it: never the secret, only its SHA-256 (the lookup key).
public struct TokenRecord: Hashable, Sendable {
    /// The longest token name, in bytes.
    public static let maxNameBytes = 64

    public var id: TokenID
    /// What it is for (`fleet-eu`): 1...`maxNameBytes` of `[A-Za-z0-9._-]`.
    public var name: String
    public var scope: TokenScope
    /// When set, the token sees and acts only on adapters named under `namespace/`.
    public var namespace: String?
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(id: TokenID, name: String, scope: TokenScope, namespace: String?, createdAt: Date,
                expiresAt: Date?, lastUsedAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.scope = scope
        self.namespace = namespace
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// Why a token does not authenticate at `time`, or nil when it does.
    public func refusal(at time: Date) -> Refusal? {
        if revokedAt != nil { return .revoked }
        if let expiresAt, expiresAt <= time { return .expired }
        return nil
    }

    public enum Refusal: String, Sendable {
        case revoked, expired
    }

    /// Validates a token name: 1...`maxNameBytes` of `[A-Za-z0-9._-]`.
    public static func validateName(_ name: String) throws(CatalogError) {
        let bytes = Array(name.utf8)
        guard (1...maxNameBytes).contains(bytes.count) else {
            throw .invalidToken("name has \(bytes.count) characters; 1 to \(maxNameBytes) are allowed")
        }
        if let offset = bytes.firstIndex(where: { !AdapterName.isAllowed($0) }) {
            throw .invalidToken("name \(quoted(name)): byte \(offset) is not one of A-Z a-z 0-9 . _ -")
        }
    }
}
