import Foundation

/// One write or admin action, as the audit log keeps it: who (token id and name, nil with auth
/// off), what (`DELETE /v1/adapters/{ref}`), on what, and how it ended.
public struct AuditEntry: Hashable, Sendable {
    /// The longest `action` or `target` stored, in bytes; longer text is cut.
    public static let maxTextBytes = 1024

    /// Increasing; pages of the log are `before` one of these.
    public var sequence: Int64
    public var time: Date
    public var tokenID: TokenID?
    public var tokenName: String?
    /// The acting token's namespace, for a namespace admin's view of the log.
    public var namespace: String?
    public var action: String
    public var target: String
    public var status: Int
    public var requestID: String

    public init(sequence: Int64 = 0, time: Date, tokenID: TokenID?, tokenName: String?, namespace: String?,
                action: String, target: String, status: Int, requestID: String) {
        self.sequence = sequence
        self.time = time
        self.tokenID = tokenID
        self.tokenName = tokenName
        self.namespace = namespace
        self.action = action
        self.target = target
        self.status = status
        self.requestID = requestID
    }
}
