import Locking

/// A held claim on one computation across every process sharing the catalog: while a replica holds
/// the lock named for a cache key, the others wait for its result instead of computing it again.
///
/// Released by `release()`, or by the holder's death: on PostgreSQL the lock is a session advisory
/// lock on a connection of its own, which the server drops with the process. On SQLite (one process)
/// the service's in-process single flight is the whole story, and the lock is a formality.
public final class ComputeLock: Sendable {
    private let releaser: Locked<(() -> Void)?>

    init(release: @escaping @Sendable () -> Void) {
        releaser = Locked(release)
    }

    /// Releases the lock (blocking: a round trip to the server); later calls do nothing.
    public func release() {
        let action = releaser.withLock { action -> (() -> Void)? in
            defer { action = nil }
            return action
        }
        action?()
    }

    deinit { release() }
}
