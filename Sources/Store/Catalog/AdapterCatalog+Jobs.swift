import Foundation

extension AdapterCatalog {
    /// Records a new queued job, with a pending item for each of `items` (its subjects, in order),
    /// and returns it with a fresh random id; `total` is the item count when there are items.
    ///
    /// - Parameters:
    ///   - kind: what the job does, 1...`JobRecord.maxKindBytes` of `[a-z0-9._-]`.
    ///   - request: JSON text the service needs to run (or resume) the job; opaque to the store.
    ///   - maxUnfinished: refuse (`CatalogError.tooManyJobs`) when this many jobs are already queued
    ///     or running; checked in the same transaction as the insert.
    ///   - namespace: the namespace of the token that created it (nil: none), so only that namespace sees it.
    public func createJob(kind: String, request: String, total: Int = 0, items: [String] = [],
                          maxUnfinished: Int = .max, namespace: String? = nil) throws -> JobRecord {
        let bytes = Array(kind.utf8)
        guard (1...JobRecord.maxKindBytes).contains(bytes.count),
              bytes.allSatisfy({ AdapterName.isAllowed($0) && !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else {
            throw CatalogError.invalidJobKind(kind)
        }
        let id = JobID.random()
        let total = items.isEmpty ? total : items.count
        guard total >= 0 else { throw CatalogError.invalidProgress(id, done: 0, total: total) }
        return try database.transaction { connection in
            let unfinished = try connection.queryFirst("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") {
                try $0.column(0) as Int
            } ?? 0
            guard unfinished < maxUnfinished else { throw CatalogError.tooManyJobs(unfinished: unfinished, limit: maxUnfinished) }
            let time = now()
            try connection.run("""
                INSERT INTO jobs (id, kind, state, request, progress_done, progress_total, created_at, updated_at, namespace)
                VALUES (?, ?, 'queued', ?, 0, ?, ?, ?, ?)
                """, [id.rawValue, kind, request, total, time, time, namespace])
            for (position, subject) in items.enumerated() {
                try connection.run("INSERT INTO job_items (job_id, position, subject, status) VALUES (?, ?, ?, 'pending')",
                                   [id.rawValue, position, subject])
            }
            guard let job = try fetchJob(id, connection) else { throw CatalogError.unknownJob(id) }
            return job
        }
    }

    /// The job's items in order.
    public func jobItems(_ id: JobID) throws -> [JobItem] {
        try database.read { connection in
            try connection.query("""
                SELECT position, subject, status, error, result FROM job_items WHERE job_id = ? ORDER BY position
                """, [id.rawValue]) { try jobItem($0) }
        }
    }

    /// Records a pending item's outcome and counts it in the job's progress, in one transaction whose
    /// cost does not grow with the job. `CatalogError.unknownJob` when the job or the item is gone;
    /// an item already finished is left as it was (and the job returned unchanged).
    @discardableResult
    public func finishJobItem(_ id: JobID, position: Int, status: JobItem.Status, error: String? = nil,
                              result: String? = nil) throws -> JobRecord {
        guard status != .pending else { throw CatalogError.invalidJobItem(id, position: position, "an outcome must be done or failed") }
        return try database.transaction { connection in
            let changed = try connection.run("""
                UPDATE job_items SET status = ?, error = ?, result = ? WHERE job_id = ? AND position = ? AND status = 'pending'
                """, [status.rawValue, error, result, id.rawValue, position])
            if changed == 1 {
                try connection.run("""
                    UPDATE jobs SET progress_done = CASE WHEN progress_done < progress_total THEN progress_done + 1 ELSE progress_total END,
                                    updated_at = ? WHERE id = ?
                    """, [now(), id.rawValue])
            }
            guard let job = try fetchJob(id, connection) else { throw CatalogError.unknownJob(id) }
            return job
        }
    }

    /// Deletes finished jobs (and their items) last updated before `cutoff`; returns how many.
    @discardableResult
    public func deleteFinishedJobs(updatedBefore cutoff: Date) throws -> Int {
        try database.transaction { connection in
            try connection.run("DELETE FROM jobs WHERE state IN ('succeeded', 'failed') AND updated_at < ?",
                               [cutoff.timeIntervalSince1970])
        }
    }

    /// Applies `update` to a job and returns it. Checks the state move (`JobState.canMove(to:)`) and
    /// that progress stays within 0 ≤ done ≤ total.
    @discardableResult
    public func updateJob(_ id: JobID, _ update: JobUpdate) throws -> JobRecord {
        try database.transaction { connection in
            guard var job = try fetchJob(id, connection) else { throw CatalogError.unknownJob(id) }
            let state = update.state ?? job.state
            guard job.state.canMove(to: state) else {
                throw CatalogError.invalidJobTransition(id, from: job.state, to: state)
            }
            job.state = state
            job.done = update.done ?? job.done
            job.total = update.total ?? job.total
            guard job.done >= 0, job.done <= job.total else {
                throw CatalogError.invalidProgress(id, done: job.done, total: job.total)
            }
            job.result = update.result ?? job.result
            job.error = update.error ?? job.error
            try connection.run("""
                UPDATE jobs SET state = ?, progress_done = ?, progress_total = ?, result = ?, error = ?, updated_at = ?
                WHERE id = ?
                """, [job.state.rawValue, job.done, job.total, job.result, job.error, now(), id.rawValue])
            guard let stored = try fetchJob(id, connection) else { throw CatalogError.unknownJob(id) }
            return stored
        }
    }

    /// The job with this id, or nil.
    public func job(_ id: JobID) throws -> JobRecord? {
        try database.read { try fetchJob(id, $0) }
    }

    /// Claims an unfinished job for `owner` until `lease` seconds from now: when nobody holds it,
    /// `owner` already does, or the holder's lease has run out — or always, with `takeOver` (a
    /// single-process catalog, where any other holder is a previous run of this one). Returns the
    /// job when `owner` now holds it; nil when it is finished, gone, or another replica's.
    public func claimJob(_ id: JobID, owner: String, lease: TimeInterval, takeOver: Bool = false) throws -> JobRecord? {
        try database.transaction { connection in
            let time = now()
            let changed = try connection.run("""
                UPDATE jobs SET owner = ?1, lease_until = ?2
                WHERE id = ?3 AND state IN ('queued', 'running')
                  AND (?4 = 1 OR owner IS NULL OR owner = ?1 OR lease_until IS NULL OR lease_until < ?5)
                """, [owner, time + lease, id.rawValue, takeOver, time])
            return changed == 1 ? try fetchJob(id, connection) : nil
        }
    }

    /// Extends `owner`'s leases on `ids` to `lease` seconds from now; returns the ids it still
    /// holds (a job finished, or taken over after a lapse, is not among them).
    public func renewJobLeases(_ ids: [JobID], owner: String, lease: TimeInterval) throws -> Set<JobID> {
        guard !ids.isEmpty else { return [] }
        return try database.transaction { connection in
            var kept = Set<JobID>()
            let until = now() + lease
            for id in ids {
                let changed = try connection.run("""
                    UPDATE jobs SET lease_until = ? WHERE id = ? AND owner = ? AND state IN ('queued', 'running')
                    """, [until, id.rawValue, owner])
                if changed == 1 { kept.insert(id) }
            }
            return kept
        }
    }

    /// Claims the first pending item of an unfinished job that nobody holds (never claimed, released,
    /// or whose lease ran out — or any, with `takeOver`) for `owner` until `lease` seconds from now,
    /// and returns it; nil when every pending item is held, or none is left. A replica holds one
    /// item at a time: it records the outcome before claiming the next.
    ///
    /// One short write transaction. On PostgreSQL it needs no `FOR UPDATE SKIP LOCKED`: catalog
    /// writes already take turns fleet-wide (`PostgresDatabase.withConnection`), so two replicas can
    /// never pick the same item, and the same SQL runs on SQLite.
    public func claimJobItem(_ id: JobID, owner: String, lease: TimeInterval, takeOver: Bool = false) throws -> JobItem? {
        try database.transaction { connection in
            let time = now()
            guard try connection.queryFirst("SELECT 1 FROM jobs WHERE id = ? AND state IN ('queued', 'running')", [id.rawValue], { _ in true }) == true,
                  let position = try connection.queryFirst("""
                    SELECT position FROM job_items
                    WHERE job_id = ?1 AND status = 'pending'
                      AND (?2 = 1 OR owner IS NULL OR lease_until IS NULL OR lease_until < ?3)
                    ORDER BY position LIMIT 1
                    """, [id.rawValue, takeOver, time], { try $0.column(0) as Int }) else { return nil }
            try connection.run("UPDATE job_items SET owner = ?, lease_until = ? WHERE job_id = ? AND position = ?",
                               [owner, time + lease, id.rawValue, position])
            return try connection.queryFirst("""
                SELECT position, subject, status, error, result FROM job_items WHERE job_id = ? AND position = ?
                """, [id.rawValue, position]) { try jobItem($0) }
        }
    }

    /// Extends `owner`'s lease on a pending item; false when it is no longer `owner`'s (taken over
    /// after a lapse) or no longer pending.
    public func renewJobItemLease(_ id: JobID, position: Int, owner: String, lease: TimeInterval) throws -> Bool {
        try database.transaction { connection in
            try connection.run("""
                UPDATE job_items SET lease_until = ? WHERE job_id = ? AND position = ? AND owner = ? AND status = 'pending'
                """, [now() + lease, id.rawValue, position, owner]) == 1
        }
    }

    /// Gives a pending item up (a replica stopping mid-item), so another may claim it at once.
    public func releaseJobItem(_ id: JobID, position: Int, owner: String) throws {
        try database.transaction { connection in
            try connection.run("""
                UPDATE job_items SET owner = NULL, lease_until = NULL WHERE job_id = ? AND position = ? AND owner = ? AND status = 'pending'
                """, [id.rawValue, position, owner])
        }
    }

    /// Gives up every pending item `owner` holds, in every job: a replica starting again under the
    /// same name (a restarted process) lets its previous life's claims go at once rather than at
    /// their leases' end. Returns how many it freed.
    @discardableResult
    public func releaseJobItems(owner: String) throws -> Int {
        try database.transaction { connection in
            try connection.run("""
                UPDATE job_items SET owner = NULL, lease_until = NULL WHERE owner = ? AND status = 'pending'
                """, [owner])
        }
    }

    /// Finishes a job whose items all have outcomes: `succeeded` when none failed, else `failed`
    /// with `failureSummary(failed, total)` as its error. Returns the job, finished or not; a job
    /// already finished (by another replica recording the last item) is returned as it is.
    @discardableResult
    public func finishJobIfComplete(_ id: JobID, failureSummary: (Int, Int) -> String) throws -> JobRecord {
        try database.transaction { connection in
            guard var job = try fetchJob(id, connection) else { throw CatalogError.unknownJob(id) }
            guard !job.state.isFinished else { return job }
            let (pending, failed, total) = try connection.queryFirst("""
                SELECT coalesce(sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0),
                       coalesce(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0), count(*)
                FROM job_items WHERE job_id = ?
                """, [id.rawValue]) { (try $0.column(0) as Int, try $0.column(1) as Int, try $0.column(2) as Int) } ?? (0, 0, 0)
            guard pending == 0 else { return job }
            job.state = failed == 0 ? .succeeded : .failed
            job.error = failed == 0 ? nil : failureSummary(failed, total)
            try connection.run("UPDATE jobs SET state = ?, error = ?, updated_at = ? WHERE id = ?",
                               [job.state.rawValue, job.error, now(), id.rawValue])
            return try fetchJob(id, connection) ?? job
        }
    }

    /// Gives a job up (a replica pausing it for shutdown), so another replica may take it at once.
    public func releaseJob(_ id: JobID, owner: String) throws {
        try database.transaction { connection in
            try connection.run("""
                UPDATE jobs SET owner = NULL, lease_until = NULL WHERE id = ? AND owner = ? AND state IN ('queued', 'running')
                """, [id.rawValue, owner])
        }
    }

    /// Queued and running jobs, oldest first: what the service resumes after a restart.
    public func unfinishedJobs() throws -> [JobRecord] {
        try database.read { connection in
            try connection.query("""
                SELECT \(Self.jobColumns) FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at, id
                """) { try jobRecord($0) }
        }
    }

    // MARK: Rows

    static let jobColumns = """
        id, kind, state, request, progress_done, progress_total, result, error, created_at, updated_at, namespace,
        owner, lease_until
        """

    private func fetchJob(_ id: JobID, _ connection: any DatabaseConnection) throws -> JobRecord? {
        try connection.queryFirst("SELECT \(Self.jobColumns) FROM jobs WHERE id = ?", [id.rawValue]) { try jobRecord($0) }
    }

    private func jobItem(_ row: any DatabaseRow) throws -> JobItem {
        let statusText = try row.column(2) as String
        guard let status = JobItem.Status(rawValue: statusText) else {
            throw CatalogError.corruptRow(table: "job_items", column: "status", value: statusText)
        }
        return JobItem(position: try row.column(0), subject: try row.column(1), status: status,
                       error: try row.column(3), result: try row.column(4))
    }

    func jobRecord(_ row: any DatabaseRow) throws -> JobRecord {
        let idText = try row.column(0) as String
        let stateText = try row.column(2) as String
        guard let id = try? JobID(validating: idText) else {
            throw CatalogError.corruptRow(table: "jobs", column: "id", value: idText)
        }
        guard let state = JobState(rawValue: stateText) else {
            throw CatalogError.corruptRow(table: "jobs", column: "state", value: stateText)
        }
        return JobRecord(
            id: id, kind: try row.column(1), state: state, request: try row.column(3),
            done: try row.column(4), total: try row.column(5), result: try row.column(6), error: try row.column(7),
            createdAt: Date(timeIntervalSince1970: try row.column(8)),
            updatedAt: Date(timeIntervalSince1970: try row.column(9)),
            namespace: try row.column(10), owner: try row.column(11),
            leaseUntil: (try row.column(12) as Double?).map { Date(timeIntervalSince1970: $0) })
    }
}
