import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Shutdown through the real signal path on the built binary, in the order Kubernetes needs. Each
/// test waits seconds on a child process: on a thread of its own, never on the cooperative pool the
/// other suites' servers run their handlers on.
@Suite("serve: SIGTERM drains, a second signal exits at once")
struct DrainTests {
    /// Polls `condition` every 10 ms until true or `timeout`.
    static func eventually(_ timeout: Duration, _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test("SIGTERM: readyz 503 at once while everything else is still served for the drain delay; then refused; exit 0 after the catalog closes")
    func drain() async throws {
        try await HTTPTestClient.onThread { try Self.drainBlocking() }
    }

    static func drainBlocking() throws {
        let server = try ServeProcess(["--drain-delay", "2s", "--shutdown-grace", "5s", "--scrub-interval", "0", "--min-free-disk", "0"])
        #expect(server.status("/readyz") == 200)
        let signalled = ContinuousClock.now
        server.signal(SIGTERM)
        #expect(eventually(.seconds(1)) { server.status("/readyz") == 503 }, "readyz turns 503 at once")
        #expect(server.status("/healthz") == 200, "still accepting and serving during the drain delay")
        #expect(server.status("/v1/adapters") == 200)
        let refused = eventually(.seconds(10)) { server.status("/healthz") == nil }
        #expect(refused, "the listener closes after the delay")
        #expect(ContinuousClock.now - signalled >= .milliseconds(1900), "not before the drain delay")
        #expect(server.waitForExit(timeout: .seconds(10)) == 0, "\(server.log)")
        let log = server.log
        #expect(log.contains("draining: /readyz answers 503"))
        #expect(log.contains("stopped: catalog closed"))
        // The catalog closed cleanly: a new process opens it and finds it whole.
        let check = try CLIRunner.runBlocking(["scrub", "--data", server.scratch.appendingPathComponent("data").path])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }

    @Test("a second SIGTERM during the drain exits at once with status 1")
    func secondSignal() async throws {
        try await HTTPTestClient.onThread { try Self.secondSignalBlocking() }
    }

    static func secondSignalBlocking() throws {
        let server = try ServeProcess(["--drain-delay", "60s", "--scrub-interval", "0", "--min-free-disk", "0"])
        server.signal(SIGTERM)
        #expect(eventually(.seconds(1)) { server.status("/readyz") == 503 })
        let second = ContinuousClock.now
        server.signal(SIGINT)
        #expect(server.waitForExit(timeout: .seconds(5)) == 1, "\(server.log)")
        #expect(ContinuousClock.now - second < .seconds(5))
        #expect(server.log.contains("exiting now"))
    }
}
