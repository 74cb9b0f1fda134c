import Foundation
import Store

extension AdapterService {
    /// How often finished jobs past their retention are deleted.
    static let jobSweepInterval: Duration = .seconds(60)

    /// Starts the upkeep loop: cache hits kept in memory written once a second (a cache hit does no
    /// write of its own), finished jobs past `jobRetention` deleted every minute, and the background
    /// scrub every `scrubInterval`. `stop()` cancels and awaits it.
    func startMaintenance() {
        let task = Task { [self] in
            let clock = ContinuousClock()
            var nextSweep = clock.now
            var nextScrub = configuration.scrubInterval > .zero ? clock.now + configuration.scrubInterval : nil
            var nextLeaseRenewal = clock.now + Self.jobLeaseRenewal
            var nextTakeover = clock.now + Self.jobTakeoverInterval
            while !Task.isCancelled {
                try? await Task.sleep(for: configuration.maintenanceInterval)
                if Task.isCancelled { break }
                await flushCacheTouches()
                await flushTokenUses()
                if clock.now >= nextLeaseRenewal {
                    nextLeaseRenewal = clock.now + Self.jobLeaseRenewal
                    await renewJobLease()
                }
                if configuration.catalog.isShared, clock.now >= nextTakeover {
                    nextTakeover = clock.now + Self.jobTakeoverInterval
                    do { try await resumeJobs() } catch is CancellationError {} catch {
                        logger.warning("could not look for jobs to take over: \(error)")
                    }
                }
                if clock.now >= nextSweep {
                    nextSweep = clock.now + Self.jobSweepInterval
                    await sweepJobs()
                    await pruneAudit()
                    await sweepSessions()
                }
                if let due = nextScrub, clock.now >= due {
                    await scrubOncePerFleet()
                    nextScrub = clock.now + configuration.scrubInterval
                }
            }
        }
        background.withLock { $0.append(task) }
    }

    /// Cancels the upkeep loop (a scrub in progress stops at its next chunk) and waits for it.
    func stopMaintenance() async {
        let tasks = background.withLock { tasks in defer { tasks = [] }; return tasks }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    func flushCacheTouches() async {
        guard catalog.pendingCacheTouches > 0 else { return }
        do { try await store.write { try $0.flushCacheTouches() } } catch is CancellationError {} catch {
            logger.warning("could not record cache hits (kept for the next try): \(error)")
        }
    }

    /// Writes when tokens were last used (gathered by the authenticator; a request never writes).
    func flushTokenUses() async {
        let uses = authenticator.takeUses()
        guard !uses.isEmpty else { return }
        do { try await store.write { try $0.recordTokenUses(uses) } } catch is CancellationError {} catch {
            logger.warning("could not record token uses: \(error)")
        }
    }

    /// Keeps the newest `auditRetention` audit entries.
    func pruneAudit() async {
        let keep = configuration.access.auditRetention
        do {
            let removed = try await store.write { try $0.pruneAudit(keep: keep) }
            if removed > 0 { logger.info("pruned \(removed) audit entries past the newest \(keep)") }
        } catch is CancellationError {} catch {
            logger.warning("could not prune the audit log: \(error)")
        }
    }

    /// Removes dashboard sessions that expired or whose token was revoked or expired.
    func sweepSessions() async {
        do {
            let removed = try await store.write { try $0.deleteExpiredSessions(at: Date()) }
            if removed > 0 { logger.info("removed \(removed) ended dashboard sessions") }
        } catch is CancellationError {} catch {
            logger.warning("could not remove ended dashboard sessions: \(error)")
        }
    }

    func sweepJobs() async {
        let cutoff = Date().addingTimeInterval(-configuration.jobRetention.seconds)
        do {
            let deleted = try await store.write { try $0.deleteFinishedJobs(updatedBefore: cutoff) }
            if deleted > 0 {
                metrics.jobsDeleted(deleted)
                logger.info("deleted \(deleted) finished jobs older than the retention (\(configuration.jobRetention))")
            }
        } catch is CancellationError {} catch {
            logger.warning("could not delete old jobs: \(error)")
        }
    }

    /// The scheduled scrub, by one replica at a time: on a shared blob directory every replica's
    /// schedule comes due, and the one that takes the fleet-wide "scrub" lock reads the blobs while
    /// the others skip this round (on SQLite the lock is always free).
    func scrubOncePerFleet() async {
        let lock: ComputeLock?
        do { lock = try await store.read { try $0.tryComputeLock(name: "scrub") } } catch {
            logger.warning("scrub: could not take the fleet's scrub lock, skipped this round: \(error)")
            return
        }
        guard let lock else {
            logger.info("scrub: another replica is scrubbing the shared blobs; skipped this round")
            return
        }
        _ = await scrub()
        if configuration.catalog.isShared {
            // The fleet's sweep of blob files no row refers to (an upload the catalog refused during
            // an outage, a replica killed between commit and row), old enough to be nobody's.
            do {
                let removed = try await store.write { try $0.removeOrphanBlobs(olderThan: AdapterCatalog.sharedOrphanAge) }
                if !removed.isEmpty { logger.info("scrub: removed \(removed.count) blob files no row refers to") }
            } catch {
                logger.warning("scrub: could not sweep unreferenced blob files: \(error)")
            }
        }
        await release(lock)
    }

    /// Rehashes every blob at most `scrubBytesPerSecond`, on the I/O pool, one blob per job (so other
    /// I/O interleaves). A damaged blob is quarantined as on a read (`checkBlob`). Returns the report.
    @discardableResult
    func scrub() async -> BlobScrubReport {
        let blobs = catalog.blobs
        var report = BlobScrubReport(strayFiles: [])
        let started = ContinuousClock.now
        logger.info("scrub: started")
        do {
            let digests = try await io.run { try blobs.digests() }
            let pacer = ScrubPacer(bytesPerSecond: configuration.scrubBytesPerSecond)
            for digest in digests {
                if Task.isCancelled { throw CancellationError() }
                let verification = try await io.run { flag in
                    try blobs.verify(digest) { (bytes: Int) throws(BlobStoreError) in
                        if flag.isRaised { throw BlobStoreError.system(operation: "scrub (stopping)", path: blobs.path(for: digest), errno: ECANCELED) }
                        pacer.pace(bytes)
                    }
                }
                switch verification {
                case .intact(let size):
                    report.bytes += size
                    report.checked += 1
                case let .corrupt(actual, size):
                    report.bytes += size
                    report.checked += 1
                    report.corrupt.append(CorruptBlob(digest: digest, actual: actual, size: size))
                    metrics.blobDamaged(foundBy: "scrub")
                    try await store.write { try $0.quarantine(digest, actual: actual) }
                case .missing:
                    continue   // deleted while the scrub ran
                }
            }
            metrics.scrubbed(bytes: report.bytes, completed: true)
            logger.info("scrub: \(report.checked) blobs, \(report.bytes) bytes, \(report.corrupt.count) damaged, in \(String(format: "%.1f", (ContinuousClock.now - started).seconds)) s")
        } catch {
            metrics.scrubbed(bytes: report.bytes, completed: false)
            if Task.isCancelled || error is CancellationError {
                logger.info("scrub: stopped after \(report.checked) blobs")
            } else {
                logger.error("scrub: failed after \(report.checked) blobs: \(error)")
            }
        }
        return report
    }
}

/// Keeps a reader to a byte rate: after each chunk, sleeps until the bytes read so far are due.
/// Used from one I/O thread at a time (one blob per job, awaited in order).
final class ScrubPacer: @unchecked Sendable {
    private let bytesPerSecond: Double
    private let start = ContinuousClock.now
    private var bytes: Double = 0

    init(bytesPerSecond: Int) { self.bytesPerSecond = Double(max(1, bytesPerSecond)) }

    func pace(_ count: Int) {
        bytes += Double(count)
        let due = bytes / bytesPerSecond
        let elapsed = (ContinuousClock.now - start).seconds
        if due > elapsed { Thread.sleep(forTimeInterval: min(due - elapsed, 1)) }
    }
}
