import Foundation
import Testing
@testable import Store

@Suite("AdapterCatalog: job items, the unfinished-jobs bound, retention, the v1 migration")
struct AdapterCatalogJobItemTests {
    static let subjects = (0..<5).map { String(repeating: String($0), count: 64) }

    @Test("a job's items are rows: each outcome updates one row and counts once in the progress")
    func items() throws {
        let fixture = try CatalogFixture()
        let job = try fixture.catalog.createJob(kind: "normalize", request: "{}", items: Self.subjects)
        #expect(job.total == 5 && job.done == 0 && job.state == .queued)
        let items = try fixture.catalog.jobItems(job.id)
        #expect(items.map(\.subject) == Self.subjects && items.map(\.position) == Array(0..<5))
        #expect(items.allSatisfy { $0.status == .pending && $0.error == nil && $0.result == nil })

        let afterOne = try fixture.catalog.finishJobItem(job.id, position: 1, status: .done, result: "{\"urls\":{}}")
        #expect(afterOne.done == 1)
        let again = try fixture.catalog.finishJobItem(job.id, position: 1, status: .failed, error: "late")
        #expect(again.done == 1, "an item already finished is not counted twice")
        try fixture.catalog.finishJobItem(job.id, position: 3, status: .failed, error: "no such adapter")
        let stored = try fixture.catalog.jobItems(job.id)
        #expect(stored[1].status == .done && stored[1].result == "{\"urls\":{}}" && stored[1].error == nil)
        #expect(stored[3].status == .failed && stored[3].error == "no such adapter")
        #expect(stored.filter { $0.status == .pending }.map(\.position) == [0, 2, 4])
        #expect(try fixture.catalog.job(job.id)?.done == 2)

        #expect(throws: CatalogError.invalidJobItem(job.id, position: 0, "an outcome must be done or failed")) {
            try fixture.catalog.finishJobItem(job.id, position: 0, status: .pending)
        }
        let unknown = JobID.random()
        #expect(throws: CatalogError.unknownJob(unknown)) { try fixture.catalog.finishJobItem(unknown, position: 0, status: .done) }
    }

    @Test("createJob refuses past maxUnfinished (queued or running) and counts finished ones out")
    func unfinishedBound() throws {
        let fixture = try CatalogFixture()
        let first = try fixture.catalog.createJob(kind: "normalize", request: "{}", items: ["a"], maxUnfinished: 2)
        let second = try fixture.catalog.createJob(kind: "normalize", request: "{}", items: ["b"], maxUnfinished: 2)
        try fixture.catalog.updateJob(second.id, JobUpdate(state: .running))
        #expect(throws: CatalogError.tooManyJobs(unfinished: 2, limit: 2)) {
            try fixture.catalog.createJob(kind: "normalize", request: "{}", items: ["c"], maxUnfinished: 2)
        }
        try fixture.catalog.updateJob(first.id, JobUpdate(state: .succeeded))
        #expect(throws: Never.self) { try fixture.catalog.createJob(kind: "normalize", request: "{}", items: ["c"], maxUnfinished: 2) }
    }

    @Test("finished jobs past the cutoff are deleted with their items; unfinished ones stay whatever their age")
    func retention() throws {
        let fixture = try CatalogFixture()
        let old = try fixture.catalog.createJob(kind: "normalize", request: "{}", items: ["a", "b"])
        try fixture.catalog.updateJob(old.id, JobUpdate(state: .failed, error: "x"))
        let stuck = try fixture.catalog.createJob(kind: "normalize", request: "{}", items: ["c"])
        fixture.clock.advance(by: 100)
        let recent = try fixture.catalog.createJob(kind: "normalize", request: "{}", items: ["d"])
        try fixture.catalog.updateJob(recent.id, JobUpdate(state: .succeeded))
        #expect(try fixture.catalog.deleteFinishedJobs(updatedBefore: fixture.clock.now.addingTimeInterval(-50)) == 1)
        #expect(try fixture.catalog.job(old.id) == nil)
        #expect(try fixture.catalog.jobItems(old.id).isEmpty, "items go with their job")
        #expect(try fixture.catalog.job(stuck.id) != nil && fixture.catalog.job(recent.id) != nil)
    }

    @Test("version 1's per-job JSON outcomes become item rows when the schema moves to version 2")
    func migratesVersion1Outcomes() throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("catalog.sqlite").path
        do {
            let database = try SQLiteDatabase(path: path, logger: makeLogger())
            defer { database.close() }
            try database.migrate([CatalogSchema.version1])
            let outcomes = """
                [{"digest":"\(Self.subjects[0])","status":"done","urls":{"tar":"/t"}},
                 {"digest":"\(Self.subjects[1])","error":"gone","status":"failed"},
                 {"digest":"\(Self.subjects[2])","status":"pending"}]
                """
            try database.run("""
                INSERT INTO jobs (id, kind, state, request, progress_done, progress_total, result, created_at, updated_at)
                VALUES (?, 'normalize', 'running', '{}', 2, 3, ?, 1, 1)
                """, [String(repeating: "a", count: 32), outcomes])
        }
        let catalog = try AdapterCatalog(directory: directory, logger: makeLogger())
        defer { catalog.close() }
        #expect(try catalog.schemaVersion() >= 2)
        let id = try JobID(validating: String(repeating: "a", count: 32))
        let items = try catalog.jobItems(id)
        #expect(items.map(\.subject) == Array(Self.subjects.prefix(3)))
        #expect(items.map(\.status) == [.done, .failed, .pending])
        #expect(items[0].result == "{\"urls\":{\"tar\":\"/t\"}}" && items[1].error == "gone" && items[2].result == nil)
        #expect(try catalog.job(id)?.result == nil, "the JSON moved into the rows")
        #expect(try catalog.job(id)?.done == 2)
    }
}
