import Foundation
import Locking
import Testing
import Store

/// Job leases (schema version 5): which replica runs a job, and when another may take it over. Two
/// catalogs on one database stand for two replicas (on SQLite, two processes on one file; the
/// service shares a catalog only on PostgreSQL, where the same suite runs too).
@Suite("AdapterCatalog: job leases")
struct AdapterCatalogJobLeaseTests {
    /// True when `date` is `seconds` after the fixture's now (to a microsecond: Date converts epochs).
    static func isLease(_ date: Date?, _ fixture: CatalogFixture, _ seconds: Double) -> Bool {
        guard let date else { return false }
        return abs(date.timeIntervalSince1970 - (fixture.clock.now.timeIntervalSince1970 + seconds)) < 1e-6
    }

    @Test("a claim holds a job for its owner until the lease ends; the same owner renews it by claiming again")
    func claimAndExpiry() throws {
        let fixture = try CatalogFixture()
        let job = try fixture.catalog.createJob(kind: "normalize", request: "{}", items: ["a", "b"])
        #expect(job.owner == nil && job.leaseUntil == nil)
        let claimed = try #require(try fixture.catalog.claimJob(job.id, owner: "r1", lease: 15))
        #expect(claimed.owner == "r1" && Self.isLease(claimed.leaseUntil, fixture, 15))
        #expect(try fixture.catalog.claimJob(job.id, owner: "r2", lease: 15) == nil, "r1 holds it")
        fixture.clock.advance(by: 10)
        #expect(Self.isLease(try fixture.catalog.claimJob(job.id, owner: "r1", lease: 15)?.leaseUntil, fixture, 15))
        fixture.clock.advance(by: 15)
        #expect(try fixture.catalog.claimJob(job.id, owner: "r2", lease: 15) == nil, "exactly at the lease's end it still holds")
        fixture.clock.advance(by: 0.001)
        let taken = try #require(try fixture.catalog.claimJob(job.id, owner: "r2", lease: 15))
        #expect(taken.owner == "r2")
        #expect(try fixture.catalog.renewJobLeases([job.id], owner: "r1", lease: 15).isEmpty, "r1 lost it")
        #expect(try fixture.catalog.renewJobLeases([job.id], owner: "r2", lease: 15) == [job.id])
    }

    @Test("takeOver claims a job another owner holds (a catalog of one process, after a restart under a new name)")
    func takeOver() throws {
        let fixture = try CatalogFixture()
        let job = try fixture.catalog.createJob(kind: "normalize", request: "{}", total: 1)
        _ = try fixture.catalog.claimJob(job.id, owner: "old-host", lease: 3600)
        #expect(try fixture.catalog.claimJob(job.id, owner: "new-host", lease: 15) == nil)
        #expect(try fixture.catalog.claimJob(job.id, owner: "new-host", lease: 15, takeOver: true)?.owner == "new-host")
    }

    @Test("finished jobs cannot be claimed or renewed; release frees an unfinished job at once and leaves a finished one alone")
    func finishedAndReleased() throws {
        let fixture = try CatalogFixture()
        let job = try fixture.catalog.createJob(kind: "normalize", request: "{}", total: 1)
        _ = try fixture.catalog.claimJob(job.id, owner: "r1", lease: 15)
        try fixture.catalog.releaseJob(job.id, owner: "r2")   // not r2's: nothing happens
        #expect(try fixture.catalog.job(job.id)?.owner == "r1")
        try fixture.catalog.releaseJob(job.id, owner: "r1")
        let released = try #require(try fixture.catalog.job(job.id))
        #expect(released.owner == nil && released.leaseUntil == nil)
        #expect(try fixture.catalog.claimJob(job.id, owner: "r2", lease: 15)?.owner == "r2", "free before the lease would have ended")

        try fixture.catalog.updateJob(job.id, JobUpdate(state: .running))
        try fixture.catalog.updateJob(job.id, JobUpdate(state: .succeeded, done: 1))
        #expect(try fixture.catalog.claimJob(job.id, owner: "r2", lease: 15) == nil)
        #expect(try fixture.catalog.claimJob(job.id, owner: "r3", lease: 15, takeOver: true) == nil)
        #expect(try fixture.catalog.renewJobLeases([job.id], owner: "r2", lease: 15).isEmpty)
        try fixture.catalog.releaseJob(job.id, owner: "r2")
        #expect(try fixture.catalog.job(job.id)?.owner == "r2", "a finished job keeps the name of who ran it")
        #expect(try fixture.catalog.claimJob(JobID.random(), owner: "r1", lease: 15) == nil, "an unknown job")
        #expect(try fixture.catalog.renewJobLeases([], owner: "r1", lease: 15).isEmpty)
    }

    @Test("two catalogs on one database (two replicas) race for one job: exactly one wins, every time")
    func racingReplicas() throws {
        let fixture = try CatalogFixture()
        let other = try fixture.openAnother(configuration: .init(removeOrphanBlobsAtOpen: false, cleanTemporaryFilesAtOpen: false))
        defer { other.close() }
        for _ in 0..<20 {
            let job = try fixture.catalog.createJob(kind: "normalize", request: "{}", total: 1)
            let winners = Locked(0)
            DispatchQueue.concurrentPerform(iterations: 2) { index in
                let catalog = index == 0 ? fixture.catalog : other
                if (try? catalog.claimJob(job.id, owner: "r\(index)", lease: 15)) != nil {
                    winners.withLock { $0 += 1 }
                }
            }
            #expect(winners.withLock { $0 } == 1)
            try fixture.catalog.updateJob(job.id, JobUpdate(state: .failed, error: "done with it"))
        }
    }

    @Test("a lease and its owner survive a reopen")
    func survivesReopen() throws {
        let fixture = try CatalogFixture()
        let job = try fixture.catalog.createJob(kind: "normalize", request: "{}", total: 1)
        _ = try fixture.catalog.claimJob(job.id, owner: "r1", lease: 15)
        let reopened = try fixture.reopen()
        let stored = try #require(try reopened.unfinishedJobs().first { $0.id == job.id })
        #expect(stored.owner == "r1" && Self.isLease(stored.leaseUntil, fixture, 15))
    }

    @Test("adapters are claimed one at a time, in order, each by one replica; a lapsed lease frees its adapter; an outcome is recorded once")
    func itemClaims() throws {
        let fixture = try CatalogFixture()
        let catalog = fixture.catalog
        let job = try catalog.createJob(kind: "normalize", request: "{}", items: ["a", "b", "c"])
        let claims = try [("r1"), ("r2"), ("r1")].map { try #require(try catalog.claimJobItem(job.id, owner: $0, lease: 15)) }
        #expect(claims.map(\.subject) == ["a", "b", "c"])
        #expect(try catalog.claimJobItem(job.id, owner: "r3", lease: 15) == nil, "every pending adapter is held")
        try catalog.finishJobItem(job.id, position: 0, status: .done, result: "{}")
        #expect(try !catalog.renewJobItemLease(job.id, position: 0, owner: "r1", lease: 15), "done: nothing to renew")
        #expect(try catalog.renewJobItemLease(job.id, position: 1, owner: "r2", lease: 15))
        #expect(try !catalog.renewJobItemLease(job.id, position: 1, owner: "r1", lease: 15), "not r1's")
        fixture.clock.advance(by: 15)
        #expect(try catalog.claimJobItem(job.id, owner: "r3", lease: 15) == nil, "at the lease's end it still holds")
        fixture.clock.advance(by: 0.001)
        #expect(try catalog.claimJobItem(job.id, owner: "r3", lease: 15)?.subject == "b", "lapsed: the first pending goes first")
        #expect(try catalog.claimJobItem(job.id, owner: "r3", lease: 15)?.subject == "c")
        #expect(try catalog.claimJobItem(job.id, owner: "r3", lease: 15) == nil)
        #expect(try !catalog.renewJobItemLease(job.id, position: 1, owner: "r2", lease: 15), "r2 lost b")
        // r2's squeeze of b finished anyway: its outcome counts, r3's later one changes nothing.
        #expect(try catalog.finishJobItem(job.id, position: 1, status: .done, result: "{\"by\": \"r2\"}").done == 2)
        #expect(try catalog.finishJobItem(job.id, position: 1, status: .failed, error: "late").done == 2)
        #expect(try catalog.jobItems(job.id)[1].result == "{\"by\": \"r2\"}")
        #expect(try !catalog.finishJobIfComplete(job.id) { "\($0) of \($1)" }.state.isFinished, "c is still pending")
        try catalog.finishJobItem(job.id, position: 2, status: .failed, error: "rank too high")
        let finished = try catalog.finishJobIfComplete(job.id) { failed, total in "\(failed) of \(total) adapters failed" }
        #expect(finished.state == .failed && finished.error == "1 of 3 adapters failed" && finished.done == 3)
        #expect(try catalog.finishJobIfComplete(job.id) { _, _ in "again" }.error == "1 of 3 adapters failed", "finished once")
        #expect(try catalog.claimJobItem(job.id, owner: "r1", lease: 15, takeOver: true) == nil, "a finished job has nothing to claim")
    }

    @Test("a released adapter is free at once; takeOver claims one another replica holds; a job with no failures succeeds")
    func itemReleaseAndTakeOver() throws {
        let fixture = try CatalogFixture()
        let catalog = fixture.catalog
        let job = try catalog.createJob(kind: "normalize", request: "{}", items: ["a", "b"])
        _ = try catalog.claimJobItem(job.id, owner: "r1", lease: 3600)
        _ = try catalog.claimJobItem(job.id, owner: "r1", lease: 3600)
        try catalog.releaseJobItem(job.id, position: 0, owner: "r2")   // not r2's: nothing happens
        #expect(try catalog.claimJobItem(job.id, owner: "r2", lease: 15) == nil)
        try catalog.releaseJobItem(job.id, position: 0, owner: "r1")
        #expect(try catalog.claimJobItem(job.id, owner: "r2", lease: 15)?.subject == "a")
        #expect(try catalog.claimJobItem(job.id, owner: "new-host", lease: 15, takeOver: true)?.subject == "a", "takeOver: the first pending, whoever holds it")
        #expect(try catalog.claimJobItem(job.id, owner: "r2", lease: 15) == nil, "b is r1's")
        #expect(try catalog.releaseJobItems(owner: "r1") == 1, "r1 restarts: its previous claims go")
        #expect(try catalog.claimJobItem(job.id, owner: "r2", lease: 15)?.subject == "b")
        for position in 0..<2 { try catalog.finishJobItem(job.id, position: position, status: .done, result: "{}") }
        let done = try catalog.finishJobIfComplete(job.id) { _, _ in "unused" }
        #expect(done.state == .succeeded && done.error == nil)
    }

    @Test("two catalogs on one database race for the adapters of one job: each adapter goes to exactly one")
    func racingItemClaims() throws {
        let fixture = try CatalogFixture()
        let other = try fixture.openAnother(configuration: .init(removeOrphanBlobsAtOpen: false, cleanTemporaryFilesAtOpen: false))
        defer { other.close() }
        let job = try fixture.catalog.createJob(kind: "normalize", request: "{}", items: (0..<40).map { "adapter-\($0)" })
        let claimed = Locked([String: [Int]]())
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let (catalog, owner) = index == 0 ? (fixture.catalog, "r0") : (other, "r1")
            // As the runner does: claim, work, record, claim the next.
            while let item = try? catalog.claimJobItem(job.id, owner: owner, lease: 15) {
                claimed.withLock { $0[owner, default: []].append(item.position) }
                _ = try? catalog.finishJobItem(job.id, position: item.position, status: .done, result: "{}")
            }
        }
        let all = claimed.withLock { $0 }.values.flatMap { $0 }
        #expect(all.count == 40 && Set(all).count == 40, "\(claimed.withLock { $0 })")
        #expect(try fixture.catalog.job(job.id)?.done == 40)
    }
}
