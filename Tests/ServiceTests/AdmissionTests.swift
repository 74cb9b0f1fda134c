import Dispatch
import Foundation
import Testing
import TestSupport
@testable import Service

/// The squeeze queue, per-client fairness and cancellation, end to end. The compute pool is held by
/// a job the test controls, so squeezes wait in the queue exactly as long as the test needs.
@Suite("Admission: a bounded squeeze queue, fair to each client, and work cancelled with its client")
struct AdmissionTests {
    /// Holds the service's only compute thread until `release()`.
    final class PoolGate: Sendable {
        let semaphore = DispatchSemaphore(value: 0)
        let task: Task<Void, any Error>

        init(_ service: AdapterService) async throws {
            let (started, signal) = AsyncStream<Void>.makeStream()
            let semaphore = self.semaphore
            task = Task { try await service.pool.run { signal.yield(); semaphore.wait() } }
            for await _ in started { break }
        }

        func release() async {
            semaphore.signal()
            _ = await task.result
        }
    }

    static func squeezeURL(_ digest: String, rank: Int) -> String { "/v1/adapters/\(digest)/squeezed/\(rank)/adapter_model.safetensors" }

    static func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { Issue.record("never: \(what)"); return }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test("the queue: squeezeQueue computations wait, the next distinct one gets 503 with Retry-After, one already in flight is joined")
    func queueBound() async throws {
        try await ServiceHarness.with({ $0.limits.squeezeQueue = 2; $0.limits.maxClientSqueezes = 10 }) { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 301)).digest
            let gate = try await PoolGate(s.service)
            async let r2 = s.get(Self.squeezeURL(digest, rank: 2))
            async let r3 = s.get(Self.squeezeURL(digest, rank: 3))
            try await Self.eventually("two squeezes in flight") { s.service.flights.inFlightCount == 2 }
            // At the bound: a third distinct squeeze is refused at once…
            let refused = try await s.get(Self.squeezeURL(digest, rank: 4))
            try expectProblem(refused, status: 503, detailContains: ["squeeze queue: 2"], "queue full")
            let retry = try #require(refused.header("Retry-After").flatMap(Int.init))
            #expect((1...60).contains(retry))
            // …while a request for one already in flight joins it (it adds no computation).
            async let joined = s.get(Self.squeezeURL(digest, rank: 2))
            try await Self.eventually("the third request joined rank 2") {
                s.service.flights.waiters(for: try s.service.cacheKey(try s.service.catalog.resolve(digest), SqueezeRequestFixture.rank(2)).0) == 2
            }
            await gate.release()
            let (a, b, c) = try await (r2, r3, joined)
            #expect([a.status, b.status, c.status] == [Int](repeating: 200, count: 3))
            #expect(a.body == c.body)
            let m = try await s.metrics()
            #expect(m.value("lora_squeeze_problems_total", ["type": "squeeze-queue-full"]) == 1)
            #expect(m.value("lora_squeeze_squeezes_in_flight") == 0)
            #expect(m.value("lora_squeeze_cache_entries") == 2, "only the two admitted squeezes were computed")
        }
    }

    @Test("per client: maxClientSqueezes requests may wait, the next from that address gets 429; another address is admitted")
    func perClient() async throws {
        try await ServiceHarness.with({ $0.limits.maxClientSqueezes = 2 }) { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 302)).digest
            let gate = try await PoolGate(s.service)
            async let a = s.get(Self.squeezeURL(digest, rank: 2))
            async let b = s.get(Self.squeezeURL(digest, rank: 2))   // the same squeeze still counts: a waiting request
            try await Self.eventually("two requests from 127.0.0.1 waiting") { s.service.admission.waitingByClient["127.0.0.1"] == 2 }
            let third = try await s.get(Self.squeezeURL(digest, rank: 3))
            try expectProblem(third, status: 429, detailContains: ["max client squeezes: 2"], "third from one client")
            #expect(third.header("Retry-After").flatMap(Int.init).map { (1...60).contains($0) } == true)
            // Another client address is not held back by the first one's requests.
            async let other = s.client.from("127.0.0.2").get(Self.squeezeURL(digest, rank: 3))
            try await Self.eventually("the other client waiting") { s.service.admission.waitingByClient["127.0.0.2"] == 1 }
            await gate.release()
            let statuses = try await [a.status, b.status, other.status]
            #expect(statuses == [Int](repeating: 200, count: 3))
            #expect(s.service.admission.waitingByClient.isEmpty, "every admitted request released its place")
            #expect(try await s.metrics().value("lora_squeeze_problems_total", ["type": "too-many-squeezes"]) == 1)
        }
    }

    @Test("a client that goes away cancels its queued squeeze: nothing is computed or stored, its place is freed")
    func abandonedQueuedSqueeze() async throws {
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 303)).digest
            let blobs = s.blobFiles()
            let gate = try await PoolGate(s.service)
            try await s.client.abandon(Self.squeezeURL(digest, rank: 4)) {
                try await Self.eventually("the request waiting in the queue") { s.service.flights.inFlightCount == 1 }
            }
            try await Self.eventually("the abandoned request's flight is gone") {
                try await s.metrics().value("lora_squeeze_squeezes_cancelled_total") == 1
            }
            #expect(s.service.flights.inFlightCount == 0)
            #expect(s.service.admission.waitingByClient.isEmpty)
            await gate.release()
            try await Self.eventually("the pool is idle") { s.service.pool.queuedCount == 0 }
            let m = try await s.metrics()
            #expect(m.value("lora_squeeze_squeezed_modules_total") == 0, "the squeeze never ran")
            #expect(m.value("lora_squeeze_cache_entries") == 0)
            #expect(s.blobFiles() == blobs && s.temporaryFiles().isEmpty)
            // The next request computes it normally.
            #expect(try await s.get(Self.squeezeURL(digest, rank: 4)).status == 200)
        }
    }

    @Test("one of two clients waiting on the same squeeze leaves: the other still gets it")
    func oneOfTwoLeaves() async throws {
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 304)).digest
            let gate = try await PoolGate(s.service)
            async let stays = s.client.from("127.0.0.3").get(Self.squeezeURL(digest, rank: 5))
            try await Self.eventually("the first request waiting") { s.service.flights.inFlightCount == 1 }
            try await s.client.abandon(Self.squeezeURL(digest, rank: 5)) {
                try await Self.eventually("both requests waiting") { s.service.admission.waitingByClient.values.reduce(0, +) == 2 }
            }
            try await Self.eventually("the abandoned one left") {
                try await s.metrics().value("lora_squeeze_squeezes_cancelled_total") == 1
            }
            #expect(s.service.flights.inFlightCount == 1, "the flight goes on for the client that stayed")
            await gate.release()
            #expect(try await stays.status == 200)
            #expect(try await s.metrics().value("lora_squeeze_cache_entries") == 1)
        }
    }
}

/// Squeeze requests as the routes build them, for tests that look up cache keys.
enum SqueezeRequestFixture {
    static func rank(_ r: Int) -> SqueezeRequest { SqueezeRequest(rank: r) }
}
