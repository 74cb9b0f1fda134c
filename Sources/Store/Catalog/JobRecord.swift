import Foundation

/// A background job as the catalog stores it; request and result are JSON text opaque to the store.
public struct JobRecord: Hashable, Sendable {
    /// The longest `kind`, in bytes.
    public static let maxKindBytes = 64

    public var id: JobID
    /// What the job does (`normalize`, …): 1...`maxKindBytes` of `[a-z0-9._-]`.
    public var kind: String
    public var state: JobState
    public var request: String
    /// Units of work done and in total (adapters, say); 0 ≤ done ≤ total.
    public var done: Int
    public var total: Int
    public var result: String?
    public var error: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// The namespace of the token that created it; nil when it was not namespace-limited.
    public var namespace: String? = nil
    /// The replica running it (`claimJob`), and until when its claim holds unless renewed.
    public var owner: String? = nil
    public var leaseUntil: Date? = nil
}
