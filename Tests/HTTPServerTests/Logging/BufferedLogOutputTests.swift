import Foundation
import Locking
import Logging
import Testing
@testable import HTTPServer

/// A pipe whose read end is non-blocking, to see what has been written so far.
private final class Pipe: @unchecked Sendable {
    let read: Int32
    let write: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw POSIXError(.EMFILE) }
        read = fds[0]
        write = fds[1]
        _ = fcntl(read, F_SETFL, fcntl(read, F_GETFL) | O_NONBLOCK)
        // Room for more than one batch, so a flush never blocks the test.
        _ = fcntl(write, 1031 /* F_SETPIPE_SZ */, 1 << 20)
    }

    deinit {
        close(read)
        close(write)
    }

    /// Everything written so far.
    func drain() -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = Glibc.read(read, &buffer, buffer.count)
            guard n > 0 else { break }
            out += buffer[..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

@Suite("Buffered log output: batches, deadlines, urgency, the same format")
struct BufferedLogOutputTests {
    @Test("a line waits in memory, then is written within the flush interval")
    func interval() async throws {
        let pipe = try Pipe()
        let output = BufferedLogOutput(fileDescriptor: pipe.write)
        output.write("one\n")
        output.write("two\n")
        #expect(pipe.drain() == "", "written at once instead of batched")
        var seen = ""
        for _ in 0..<100 where seen.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
            seen = pipe.drain()
        }
        #expect(seen == "one\ntwo\n")
    }

    @Test("flushBytes: one byte short waits for the interval, the byte that reaches it has everything written at once")
    func sizeBound() async throws {
        let pipe = try Pipe()
        let output = BufferedLogOutput(fileDescriptor: pipe.write, interval: .seconds(60))
        let line = String(repeating: "x", count: 99) + "\n"
        let lines = (BufferedLogOutput.flushBytes - 1) / line.utf8.count
        for _ in 0..<lines { output.write(line) }
        let remainder = BufferedLogOutput.flushBytes - 1 - lines * line.utf8.count
        output.write(String(repeating: "y", count: remainder))
        try await Task.sleep(for: .milliseconds(200))
        #expect(pipe.drain().isEmpty, "flushed one byte short of flushBytes")
        #expect(output.pendingBytes == BufferedLogOutput.flushBytes - 1)
        output.write("z")
        var written = ""
        for _ in 0..<250 where written.utf8.count < BufferedLogOutput.flushBytes {
            try await Task.sleep(for: .milliseconds(20))
            written += pipe.drain()
        }
        #expect(written.utf8.count == BufferedLogOutput.flushBytes)
        #expect(written.hasSuffix("z"))
    }

    @Test("maxPendingBytes: while the descriptor takes nothing, memory stops there; the lines past it are counted where they were lost")
    func blockedOutput() async throws {
        let pipe = try Pipe()
        _ = fcntl(pipe.write, 1031 /* F_SETPIPE_SZ */, 65_536)
        let output = BufferedLogOutput(fileDescriptor: pipe.write, interval: .milliseconds(10))
        let line = String(repeating: "b", count: 1023) + "\n"
        let total = BufferedLogOutput.maxPendingBytes / 1024 * 3
        for _ in 0..<total { output.write(line) }
        #expect(output.pendingBytes <= BufferedLogOutput.maxPendingBytes + line.utf8.count)
        var seen = ""
        var noticed = false
        for _ in 0..<5_000 where !noticed {
            let chunk = pipe.drain()
            noticed = chunk.utf8.contains(UInt8(ascii: "d"))   // only the notice has a "d"
            seen += chunk
            try await Task.sleep(for: .milliseconds(1))
        }
        for _ in 0..<20 { seen += pipe.drain(); try await Task.sleep(for: .milliseconds(5)) }
        let notice = try #require(seen.split(separator: "\n").first { $0.contains("dropped") })
        let kept = seen.split(separator: "\n").filter { $0.hasPrefix("bbbb") }.count
        let dropped = Int(notice.split(separator: " ")[1]) ?? -1
        #expect(kept + dropped == total, "\(kept) written + \(dropped) dropped")
        #expect(dropped > 0)
    }

    @Test("a warning is written at once, after the lines before it, in order")
    func urgent() throws {
        let pipe = try Pipe()
        let output = BufferedLogOutput(fileDescriptor: pipe.write)
        var logger = Logger(label: "svc") { BufferedLogHandler(label: $0, output: output) }
        logger.logLevel = .info
        logger.info("first")
        logger.notice("second")
        #expect(pipe.drain().isEmpty)
        logger.warning("third")
        let lines = pipe.drain().split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.map { $0.hasSuffix("first") } == [true, false, false])
        #expect(lines.last?.hasSuffix("third") == true)
    }

    @Test("lines are byte for byte swift-log's StreamLogHandler's (apart from the timestamp's second)")
    func format() throws {
        final class Box: Sendable { let text = Locked("") }
        struct Capture: TextOutputStream, Sendable {
            let box: Box
            func write(_ string: String) { box.text.withLock { $0 += string } }
        }
        let pipe = try Pipe()
        let output = BufferedLogOutput(fileDescriptor: pipe.write)
        let box = Box()
        var buffered = Logger(label: "lora-squeeze") { BufferedLogHandler(label: $0, output: output) }
        var reference = Logger(label: "lora-squeeze") { StreamLogHandler(label: $0, stream: Capture(box: box), metadataProvider: nil) }
        buffered[metadataKey: "replica"] = "a"
        reference[metadataKey: "replica"] = "a"
        for logger in [buffered, reference] {
            logger.info("GET /healthz 200", metadata: ["status": "200", "path": "/healthz", "request-id": "abc"])
            logger.error("failed: \"quoted\" \u{e9}")
        }
        output.flush()
        // The first field is the local time to the second: compare the rest.
        func body(_ text: String) -> [String] {
            text.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1).last.map(String.init) ?? "" }
        }
        let ours = pipe.drain()
        #expect(body(ours) == body(box.text.withLock { $0 }))
        #expect(body(ours).count == 2)
    }

    @Test("a log that cannot be written is dropped, and logging goes on")
    func closedDescriptor() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[0])   // nobody reads: write(2) fails with EPIPE (SIGPIPE is ignored by the server)
        signal(SIGPIPE, SIG_IGN)
        let output = BufferedLogOutput(fileDescriptor: fds[1])
        output.write("lost\n")
        output.flush()
        output.write("also lost\n")
        output.flush()
        close(fds[1])
    }
}
