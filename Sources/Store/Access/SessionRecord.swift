import Foundation

/// A signed-in browser session as the catalog keeps it: never the cookie's secret, only its SHA-256
/// (the lookup key), with the token that signed it in. The session acts as that token.
public struct SessionRecord: Hashable, Sendable {
    public var token: TokenRecord
    public var createdAt: Date
    public var expiresAt: Date

    public init(token: TokenRecord, createdAt: Date, expiresAt: Date) {
        self.token = token
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// Whether the session lets its browser in at `time`: it has not expired, and its token
    /// still authenticates.
    public func isValid(at time: Date) -> Bool {
        expiresAt > time && token.refusal(at: time) == nil
    }
}
