/// Changes to a job: nil fields are left as they are.
public struct JobUpdate: Hashable, Sendable {
    public var state: JobState?
    public var done: Int?
    public var total: Int?
    public var result: String?
    public var error: String?

    public init(state: JobState? = nil, done: Int? = nil, total: Int? = nil, result: String? = nil, error: String? = nil) {
        self.state = state
        self.done = done
        self.total = total
        self.result = result
        self.error = error
    }
}
