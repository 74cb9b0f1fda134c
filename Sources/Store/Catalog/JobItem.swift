/// One unit of a job's work (an adapter of a normalize job), as the catalog stores it: a row of its
/// own, so recording progress rewrites one small row, not the whole job.
public struct JobItem: Hashable, Sendable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        case pending, done, failed
    }

    /// Its place in the job, from 0.
    public var position: Int
    /// What it works on (an adapter digest); opaque to the store.
    public var subject: String
    public var status: Status
    public var error: String?
    /// JSON text the service records when the item is done; opaque to the store.
    public var result: String?

    public init(position: Int, subject: String, status: Status = .pending, error: String? = nil, result: String? = nil) {
        self.position = position
        self.subject = subject
        self.status = status
        self.error = error
        self.result = result
    }
}
