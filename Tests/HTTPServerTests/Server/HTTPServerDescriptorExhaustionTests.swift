import Foundation
import Testing
@testable import HTTPServer

/// Running out of file descriptors. Run on `http-bench-server` (an `HTTPServer` with a
/// 10,000-connection limit) in a child process whose RLIMIT_NOFILE is 64, so the limit met is the
/// process's, not the server's connection limit.
@Suite("Server: running out of file descriptors")
struct HTTPServerDescriptorExhaustionTests {
    /// The benchmark server, built beside the test bundle by `swift build --build-tests`.
    static let executable: String? = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = dir.appendingPathComponent("http-bench-server").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }()

    /// CPU seconds (user + system) the process has used, from /proc/PID/stat.
    static func cpuSeconds(_ pid: pid_t) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name (which is in parentheses and may hold spaces).
        guard let close = stat.lastIndex(of: ")") else { throw TestClientError.malformed("/proc stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw TestClientError.malformed("/proc stat fields")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// What one run saw.
    struct Outcome {
        var cpuWhileFull: Double
        var refused: Int
        var recovered: Bool
        var log: String
    }

    /// Starts the server with `reserved` descriptors kept back under `ulimit -n 64`, opens 120
    /// connections, measures its CPU for a second, looks for 503s, closes everything and checks that
    /// it serves again.
    static func run(reserved: Int) async throws -> Outcome {
        let exe = try #require(executable)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout").path

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -n 64 && exec \"$0\" 0 \"$1\" \"$2\" > \"$3\" 2>&1", exe, dir.path, String(reserved), out]
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }

        var port: UInt16?
        for _ in 0..<500 where port == nil {
            if let text = try? String(contentsOfFile: out, encoding: .utf8), let range = text.range(of: "listening on 127.0.0.1:") {
                port = UInt16(text[range.upperBound...].prefix { $0.isNumber })
            }
            if port == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let address = SocketAddress.loopbackIPv4(port: try #require(port, "the server did not start"))
        let pid = process.processIdentifier

        var outcome = try await blocking {
            // Far more connections than descriptors: the kernel completes them into the backlog.
            var clients: [TestClient] = []
            for _ in 0..<120 { clients.append(try TestClient(address, timeout: 0.2)) }
            Thread.sleep(forTimeInterval: 0.5)   // let the server fill up and settle
            let before = try Self.cpuSeconds(pid)
            Thread.sleep(forTimeInterval: 1.0)
            let cpu = try Self.cpuSeconds(pid) - before
            // The refused come just after the accepted in the backlog: stop at the first.
            var refused = 0
            for client in clients.suffix(100) where refused == 0 {
                if let response = try? client.readResponse(), response.status == 503 { refused += 1 }
            }
            clients.removeAll()   // closes every connection
            var recovered = false
            for _ in 0..<100 where !recovered {
                if let client = try? TestClient(address, timeout: 1) {
                    try? client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    recovered = (try? client.readResponse())??.status == 200
                }
                if !recovered { Thread.sleep(forTimeInterval: 0.05) }
            }
            return Outcome(cpuWhileFull: cpu, refused: refused, recovered: recovered, log: "")
        }
        outcome.log = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        #expect(!process.isRunning || kill(pid, 0) == 0, "the server died: \(outcome.log)")
        return outcome
    }

    @Test("the reserve: connections that would take the last 16 descriptors get 503; accept never fails",
          .enabled(if: executable != nil))
    func reserveKeepsDescriptors() async throws {
        let outcome = try await Self.run(reserved: 16)
        #expect(outcome.refused >= 1, "no client was told 503")
        #expect(outcome.cpuWhileFull < 0.3, "\(outcome.cpuWhileFull) s of CPU in 1 s while full")
        #expect(outcome.recovered, "did not serve again once connections closed: \(outcome.log)")
        #expect(!outcome.log.contains("out of file descriptors"), "accept ran out although the reserve was kept: \(outcome.log)")
    }

    // EMFILE itself is not run end to end: with no descriptor free, libdispatch's worker-pool
    // monitor on Linux cannot open /proc/self/task/…/stat and aborts the process (SIGILL in
    // _dispatch_workq_monitor_pools), whatever the accept loop does — seen in about one run in three.
    // The reserve above is what keeps a server away from that; the backoff below is tested as a state
    // machine. (Before the backoff, the same run measured 0.62 s of CPU per second: a busy loop.)

    @Test("EMFILE backoff: 10 ms doubling to 1 s, reset by a successful accept")
    func backoffDelays() {
        var e = DescriptorExhaustion()
        let now = ContinuousClock.now
        var delays: [Duration] = []
        for _ in 0..<10 { delays.append(e.failed(now: now).delay) }
        let expected: [Duration] = [.milliseconds(10), .milliseconds(20), .milliseconds(40), .milliseconds(80),
                                    .milliseconds(160), .milliseconds(320), .milliseconds(640), .seconds(1), .seconds(1), .seconds(1)]
        #expect(delays == expected)
        e.succeeded()
        #expect(e.failed(now: now).delay == .milliseconds(10))
    }

    @Test("EMFILE log: at most once a second, counting the events in between")
    func logRateLimit() {
        var e = DescriptorExhaustion()
        let start = ContinuousClock.now
        #expect(e.failed(now: start).log == true)
        for i in 1...5 {
            let r = e.failed(now: start + .milliseconds(100 * i))
            #expect(r.log == false && r.suppressed == i)
        }
        let next = e.failed(now: start + .milliseconds(999))
        #expect(next.log == false)
        let due = e.failed(now: start + .seconds(1))
        #expect(due.log == true && due.suppressed == 6, "logged with the 6 events since the last line")
        #expect(e.failed(now: start + .milliseconds(1500)).log == false)
    }

    @Test("the spare descriptor: released frees one, reserved takes one back")
    func spare() {
        let spare = SpareDescriptor()
        #expect(spare.release() == false, "nothing held yet")
        #expect(spare.reserve())
        #expect(spare.reserve(), "reserving twice holds one")
        #expect(spare.release())
        #expect(spare.release() == false)
    }
}
