/// Where a job is in its life. `succeeded` and `failed` are final.
public enum JobState: String, Sendable, Codable, CaseIterable {
    case queued, running, succeeded, failed

    public var isFinished: Bool { self == .succeeded || self == .failed }

    /// Allowed moves: queued ⇄ running (back to queued when a restart interrupts it), either to a
    /// final state, and staying put (to report progress). Nothing leaves a final state.
    public func canMove(to next: JobState) -> Bool {
        !isFinished && (next == self || next.isFinished || next == .queued || next == .running)
    }
}
