import Foundation
import Testing
import Store

@Suite("AdapterCatalog: jobs")
struct AdapterCatalogJobTests {
    @Test("a job is created queued, progresses, and finishes")
    func lifecycle() throws {
        let fixture = try CatalogFixture()
        let job = try fixture.catalog.createJob(kind: "normalize", request: "{\"rank\": 16}", total: 3)
        #expect(job.state == .queued && job.done == 0 && job.total == 3 && job.result == nil && job.error == nil)
        #expect(job.id.rawValue.count == 32 && job.createdAt == fixture.clock.now)
        fixture.clock.advance()
        let running = try fixture.catalog.updateJob(job.id, JobUpdate(state: .running, done: 1))
        #expect(running.state == .running && running.done == 1 && running.updatedAt == fixture.clock.now)
        try fixture.catalog.updateJob(job.id, JobUpdate(done: 3))
        let done = try fixture.catalog.updateJob(job.id, JobUpdate(state: .succeeded, result: "{\"urls\": []}"))
        #expect(done.state == .succeeded && done.done == 3 && done.result == "{\"urls\": []}")
        #expect(try fixture.catalog.job(job.id) == done)
        #expect(throws: CatalogError.invalidJobTransition(job.id, from: .succeeded, to: .running)) {
            try fixture.catalog.updateJob(job.id, JobUpdate(state: .running))
        }
        #expect(throws: CatalogError.invalidJobTransition(job.id, from: .succeeded, to: .succeeded)) {
            try fixture.catalog.updateJob(job.id, JobUpdate(done: 2))
        }
    }

    @Test("a failed job keeps its error; progress must stay within 0…total")
    func failureAndProgress() throws {
        let fixture = try CatalogFixture()
        let job = try fixture.catalog.createJob(kind: "normalize", request: "{}", total: 2)
        #expect(throws: CatalogError.invalidProgress(job.id, done: 3, total: 2)) {
            try fixture.catalog.updateJob(job.id, JobUpdate(done: 3))
        }
        #expect(throws: CatalogError.invalidProgress(job.id, done: -1, total: 2)) {
            try fixture.catalog.updateJob(job.id, JobUpdate(done: -1))
        }
        #expect(try fixture.catalog.updateJob(job.id, JobUpdate(done: 2)).done == 2)  // at the bound
        let failed = try fixture.catalog.updateJob(job.id, JobUpdate(state: .failed, error: "adapter x: rank 0"))
        #expect(failed.state == .failed && failed.error == "adapter x: rank 0")
    }

    @Test("unfinished jobs are listed oldest first, and survive a restart")
    func unfinished() throws {
        let fixture = try CatalogFixture()
        let a = try fixture.catalog.createJob(kind: "normalize", request: "{\"a\": 1}")
        fixture.clock.advance()
        let b = try fixture.catalog.createJob(kind: "normalize", request: "{\"b\": 1}")
        fixture.clock.advance()
        let c = try fixture.catalog.createJob(kind: "scrub", request: "{}")
        try fixture.catalog.updateJob(b.id, JobUpdate(state: .running))
        try fixture.catalog.updateJob(c.id, JobUpdate(state: .failed, error: "boom"))
        #expect(try fixture.catalog.unfinishedJobs().map(\.id) == [a.id, b.id])
        let reopened = try fixture.reopen()
        let resumed = try reopened.unfinishedJobs()
        #expect(resumed.map(\.id) == [a.id, b.id] && resumed[1].state == .running && resumed[0].request == "{\"a\": 1}")
        // Running → queued is allowed, for a job a restart interrupted.
        #expect(try reopened.updateJob(b.id, JobUpdate(state: .queued)).state == .queued)
    }

    @Test("job ids are random, 32 lowercase hex, and validated when parsed")
    func ids() throws {
        let ids = Set((0..<1000).map { _ in JobID.random() })
        #expect(ids.count == 1000)
        #expect(ids.allSatisfy { (try? JobID(validating: $0.rawValue)) == $0 })
        for bad in [String(repeating: "a", count: 31), String(repeating: "a", count: 33), String(repeating: "A", count: 32),
                    "../" + String(repeating: "a", count: 29), ""] {
            #expect(throws: CatalogError.invalidJobID(bad)) { try JobID(validating: bad) }
        }
        let fixture = try CatalogFixture()
        let unknown = JobID.random()
        #expect(try fixture.catalog.job(unknown) == nil)
        #expect(throws: CatalogError.unknownJob(unknown)) { try fixture.catalog.updateJob(unknown, JobUpdate(state: .running)) }
    }

    @Test("job kinds: 64 bytes accepted, 65 refused, and only [a-z0-9._-]")
    func kinds() throws {
        let fixture = try CatalogFixture()
        #expect(try fixture.catalog.createJob(kind: String(repeating: "k", count: JobRecord.maxKindBytes), request: "{}").kind.count == 64)
        for bad in ["", String(repeating: "k", count: JobRecord.maxKindBytes + 1), "Normalize", "a/b", "a b"] {
            #expect(throws: CatalogError.invalidJobKind(bad)) { try fixture.catalog.createJob(kind: bad, request: "{}") }
        }
    }
}
