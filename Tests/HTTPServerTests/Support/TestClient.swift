import Dispatch
import Foundation
@testable import HTTPServer

/// A response as read off the wire by `TestClient`.
struct TestResponse {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

enum TestClientError: Error, CustomStringConvertible {
    case system(String, Int32)
    case closedBeforeResponse
    case malformed(String)
    var description: String {
        switch self {
        case .system(let call, let code): "\(call): errno \(code)"
        case .closedBeforeResponse: "the server closed the connection before a response"
        case .malformed(let why): "malformed response: \(why)"
        }
    }
}

/// A blocking HTTP/1.1 client over a POSIX socket, for loopback tests only. Every read has a
/// timeout (SO_RCVTIMEO), so a test can never hang. Call it through `blocking { }` so its
/// blocking calls stay off Swift's cooperative thread pool, which the server's handlers need.
/// `@unchecked Sendable`: a test may send from one thread while another reads; only the reader
/// touches `buffer`, and send/recv on one descriptor from two threads is safe in the kernel.
final class TestClient: @unchecked Sendable {
    private(set) var fd: Int32
    private var buffer: [UInt8] = []

    init(_ address: SocketAddress, timeout: Double = 5) throws {
        let domain = address.family == .ipv6 ? AF_INET6 : AF_INET
        fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestClientError.system("socket", errno) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let fd = self.fd
        try address.withSockAddr { addr, length in
            guard connect(fd, addr, length) == 0 else { throw TestClientError.system("connect", errno) }
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Closes the socket now (a client going away). Never `close(client.fd)` by hand: the number
    /// would be closed again by deinit, by then perhaps another test's socket.
    func closeNow() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestClientError.system("send", errno) }
            offset += n
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads more bytes into the buffer; false at EOF, on reset, or on timeout.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        buffer += chunk[0..<n]
        return true
    }

    private func readLine() throws -> String? {
        while true {
            if let lf = buffer.firstIndex(of: 0x0A) {
                guard lf > 0, buffer[lf - 1] == 0x0D else { throw TestClientError.malformed("bare LF") }
                let line = String(decoding: buffer[0..<(lf - 1)], as: UTF8.self)
                buffer.removeFirst(lf + 1)
                return line
            }
            guard fill() else { return nil }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard fill() else { throw TestClientError.malformed("body shorter than \(count) bytes") }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[0..<count])
    }

    /// Reads one response; nil when the connection closed cleanly before any byte of one.
    /// `forHEAD`: the response to a HEAD request has no body whatever its fields say.
    func readResponse(forHEAD: Bool = false) throws -> TestResponse? {
        guard let statusLine = try readLine() else {
            if buffer.isEmpty { return nil }
            throw TestClientError.closedBeforeResponse
        }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw TestClientError.malformed("status line \(statusLine)")
        }
        var headers = HTTPHeaders()
        while let line = try readLine(), !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw TestClientError.malformed("field \(line)") }
            headers.append(name: String(line[..<colon]),
                           value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body: [UInt8] = []
        if forHEAD || (100..<200).contains(status) || status == 204 || status == 304 {
            // no content
        } else if let length = headers["Content-Length"] {
            guard let n = Int(length) else { throw TestClientError.malformed("Content-Length \(length)") }
            body = try readExactly(n)
        } else if headers["Transfer-Encoding"]?.lowercased() == "chunked" {
            while true {
                guard let sizeLine = try readLine(), let size = Int(sizeLine, radix: 16) else {
                    throw TestClientError.malformed("chunk size")
                }
                if size == 0 {
                    while let trailer = try readLine(), !trailer.isEmpty {}
                    break
                }
                body += try readExactly(size)
                guard try readLine() == "" else { throw TestClientError.malformed("chunk end") }
            }
        } else {
            while fill() {}
            body = buffer
            buffer = []
        }
        return TestResponse(status: status, headers: headers, body: body)
    }

    /// True when the server closes the connection (EOF or reset) with no further bytes, within the
    /// receive timeout. Bytes that arrive instead are returned in `extra`.
    func waitForClose() -> (closed: Bool, extra: [UInt8]) {
        while fill() {}
        let extra = buffer
        buffer = []
        var probe: UInt8 = 0
        let n = recv(fd, &probe, 1, Int32(MSG_DONTWAIT))
        let closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return (closed, extra)
    }
}

/// Runs blocking socket code on a thread of its own: not on the cooperative pool (the server's
/// handlers need it) and not on Dispatch's global queues (the server's I/O queues need those; a
/// blocked Dispatch worker is not replaced promptly on Linux).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// nil when `actual` equals `expected`, else where they part. Large bodies are compared with this
/// rather than `#expect(a == b)`: Swift Testing diffs two unequal arrays element by element, which on
/// megabytes runs for hours and starves every other test of CPU.
func byteDifference(_ actual: [UInt8], _ expected: [UInt8]) -> String? {
    let common = min(actual.count, expected.count)
    if let index = (0..<common).first(where: { actual[$0] != expected[$0] }) {
        return "byte \(index) is \(actual[index]), expected \(expected[index]) (lengths \(actual.count) and \(expected.count))"
    }
    return actual.count == expected.count ? nil : "lengths \(actual.count) and \(expected.count); the first \(common) bytes agree"
}
