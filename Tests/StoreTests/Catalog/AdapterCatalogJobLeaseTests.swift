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
}
