// Linux only (Glibc), like the server it talks to in these tests.
import Foundation
import Glibc

/// A response as `HTTPTestClient` read it off the wire.
public struct HTTPTestResponse: Sendable {
    public let status: Int
    /// Fields in the order received, names as sent.
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    /// The first field called `name` (case-insensitive), or nil.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object; throws when it is not one.
    public func jsonObject() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw HTTPTestClientError.malformed("the body is not a JSON object: \(text.prefix(200))")
        }
        return object
    }

    /// The body decoded as `T`.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body))
    }
}

public enum HTTPTestClientError: Error, CustomStringConvertible {
    case system(String, Int32)
    case closedBeforeResponse(sent: Bool)
    case malformed(String)

    public var description: String {
        switch self {
        case let .system(call, code): "\(call): \(String(cString: strerror(code))) (errno \(code))"
        case let .closedBeforeResponse(sent): "the server closed the connection before a response (request \(sent ? "sent" : "not fully sent"))"
        case let .malformed(why): "malformed response: \(why)"
        }
    }
}

/// A blocking HTTP/1.1 client over a POSIX socket, for end-to-end tests against a loopback server.
///
/// One connection per request (`Connection: close`), so every exchange is independent. Every send
/// and receive has a timeout (SO_SNDTIMEO / SO_RCVTIMEO), so a test can never hang on a server that
/// stops answering. Reads responses framed by Content-Length, by chunked transfer coding, or by the
/// connection closing (RFC 9112 §6.3).
///
/// The blocking calls must stay off Swift's cooperative pool (the server's own tasks need its few
/// threads): call `request(…)` from async code, which runs the exchange on a thread of its own.
public struct HTTPTestClient: Sendable {
    public let host: String
    public let port: Int
    /// Seconds any single send or receive may block.
    public let timeout: Double
    /// The local address to connect from (any of 127.0.0.0/8 works on Linux loopback), so a test can
    /// be several clients; nil lets the kernel choose.
    public let sourceHost: String?
    /// Fields sent with every request (a token, say) unless the request gives a field of the same name.
    public let defaultHeaders: [(String, String)]

    public init(host: String = "127.0.0.1", port: Int, timeout: Double = 30, sourceHost: String? = nil,
                defaultHeaders: [(String, String)] = []) {
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sourceHost = sourceHost
        self.defaultHeaders = defaultHeaders
    }

    /// The same server, from another local address.
    public func from(_ sourceHost: String) -> HTTPTestClient {
        HTTPTestClient(host: host, port: port, timeout: timeout, sourceHost: sourceHost, defaultHeaders: defaultHeaders)
    }

    /// `defaultHeaders` as header lines.
    var defaultFields: String { defaultHeaders.map { "\($0.0): \($0.1)\r\n" }.joined() }

    /// The same server with other default fields (`[]`: none, an anonymous client).
    public func with(defaultHeaders: [(String, String)]) -> HTTPTestClient {
        HTTPTestClient(host: host, port: port, timeout: timeout, sourceHost: sourceHost, defaultHeaders: defaultHeaders)
    }

    /// The same server, sending `Authorization: Bearer <token>` with every request.
    public func bearer(_ token: String) -> HTTPTestClient {
        with(defaultHeaders: [("Authorization", "Bearer \(token)")])
    }

    /// Sends a GET and closes the connection without reading the answer: a client that gives up.
    /// Returns once the request is sent and the socket closed.
    public func abandon(_ target: String) async throws {
        try await Self.onThread {
            let fd = try self.connectSocket()
            defer { close(fd) }
            let head = "GET \(target) HTTP/1.1\r\nHost: \(self.host):\(self.port)\r\n\(self.defaultFields)\r\n"
            guard self.sendAll(fd, Array(head.utf8)) else { throw HTTPTestClientError.closedBeforeResponse(sent: false) }
        }
    }

    /// Sends `GET target`, waits for `ready` (e.g. until the server has queued the request's work),
    /// then closes the connection without reading the answer.
    public func abandon(_ target: String, after ready: () async throws -> Void) async throws {
        let fd = try await Self.onThread {
            let fd = try self.connectSocket()
            let head = "GET \(target) HTTP/1.1\r\nHost: \(self.host):\(self.port)\r\n\(self.defaultFields)\r\n"
            guard self.sendAll(fd, Array(head.utf8)) else {
                close(fd)
                throw HTTPTestClientError.closedBeforeResponse(sent: false)
            }
            return fd
        }
        defer { close(fd) }
        try await ready()
    }

    /// One exchange, run on a dedicated thread so the cooperative pool is never blocked.
    public func request(_ method: String, _ target: String, headers: [(String, String)] = [],
                        body: [UInt8]? = nil, chunkSize: Int? = nil) async throws -> HTTPTestResponse {
        try await Self.onThread { try self.requestBlocking(method, target, headers: headers, body: body, chunkSize: chunkSize) }
    }

    /// `GET target`.
    public func get(_ target: String, headers: [(String, String)] = []) async throws -> HTTPTestResponse {
        try await request("GET", target, headers: headers)
    }

    /// A request with a JSON body.
    public func send(_ method: String, _ target: String, json: String) async throws -> HTTPTestResponse {
        try await request(method, target, headers: [("Content-Type", "application/json")], body: Array(json.utf8))
    }

    /// Runs `body` on a new thread (not the cooperative pool, not a Dispatch worker the server may need).
    public static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// One exchange on the calling thread. `target` is sent verbatim (already percent-encoded).
    /// A body, when given, is sent with its Content-Length, or with chunked transfer coding in
    /// `chunkSize`-byte chunks when that is given (RFC 9112 §7.1). If the server answers and closes
    /// before the whole body is sent (413, for one), the response it sent is still read and returned.
    public func requestBlocking(_ method: String, _ target: String, headers: [(String, String)] = [],
                                body: [UInt8]? = nil, chunkSize: Int? = nil) throws -> HTTPTestResponse {
        let fd = try connectSocket()
        defer { close(fd) }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        let given = Set(headers.map { $0.0.lowercased() })
        for (name, value) in defaultHeaders where !given.contains(name.lowercased()) { head += "\(name): \(value)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        var payload = body ?? []
        if let body, let size = chunkSize {
            head += "Transfer-Encoding: chunked\r\n"
            payload = []
            var offset = 0
            while offset < body.count {
                let n = min(size, body.count - offset)
                payload += Array("\(String(n, radix: 16))\r\n".utf8) + body[offset..<(offset + n)] + Array("\r\n".utf8)
                offset += n
            }
            payload += Array("0\r\n\r\n".utf8)
        } else if let body {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        var sentAll = sendAll(fd, Array(head.utf8))
        if sentAll, !payload.isEmpty { sentAll = sendAll(fd, payload) }
        var reader = Reader(fd: fd)
        guard let response = try reader.readResponse(headRequest: method == "HEAD") else {
            throw HTTPTestClientError.closedBeforeResponse(sent: sentAll)
        }
        return response
    }

    private func connectSocket() throws -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw HTTPTestClientError.malformed("host \(host) is not an IPv4 address")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPTestClientError.system("socket", errno) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: .init((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if let sourceHost {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            guard inet_pton(AF_INET, sourceHost, &local.sin_addr) == 1 else {
                close(fd)
                throw HTTPTestClientError.malformed("source host \(sourceHost) is not an IPv4 address")
            }
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let code = errno
                close(fd)
                throw HTTPTestClientError.system("bind \(sourceHost)", code)
            }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw HTTPTestClientError.system("connect", code)
        }
        return fd
    }

    /// False when the peer stopped accepting bytes (closed, reset, or the send timed out).
    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let flags = Int32(MSG_NOSIGNAL)
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, flags) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    /// Buffered reads of one response.
    private struct Reader {
        let fd: Int32
        var buffer: [UInt8] = []
        var eof = false

        init(fd: Int32) { self.fd = fd }

        /// Reads more bytes; false at EOF or on reset. A timeout throws (the server did not answer in time).
        mutating func fill() throws -> Bool {
            guard !eof else { return false }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    buffer += chunk[0..<n]
                    return true
                }
                if n == 0 { eof = true; return false }
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK { throw HTTPTestClientError.system("recv (timed out)", code) }
                eof = true  // ECONNRESET and friends: whatever arrived is all there is
                return false
            }
        }

        mutating func readLine() throws -> String? {
            while true {
                if let lf = buffer.firstIndex(of: 0x0A) {
                    guard lf > 0, buffer[lf - 1] == 0x0D else { throw HTTPTestClientError.malformed("bare LF") }
                    let line = String(decoding: buffer[0..<(lf - 1)], as: UTF8.self)
                    buffer.removeFirst(lf + 1)
                    return line
                }
                guard try fill() else { return nil }
            }
        }

        mutating func readExactly(_ count: Int) throws -> [UInt8] {
            while buffer.count < count {
                guard try fill() else {
                    throw HTTPTestClientError.malformed("body ended after \(buffer.count) of \(count) bytes")
                }
            }
            defer { buffer.removeFirst(count) }
            return Array(buffer[0..<count])
        }

        mutating func readResponse(headRequest: Bool) throws -> HTTPTestResponse? {
            var statusLine: String
            repeat {
                guard let line = try readLine() else { return nil }
                statusLine = line
                // Skip interim 1xx responses (RFC 9110 §15.2).
                if statusLine.hasPrefix("HTTP/1.1 1") {
                    while let l = try readLine(), !l.isEmpty {}
                    continue
                }
                break
            } while true
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
                throw HTTPTestClientError.malformed("status line \(statusLine)")
            }
            var headers: [(name: String, value: String)] = []
            while true {
                guard let line = try readLine() else { throw HTTPTestClientError.malformed("head ended early") }
                if line.isEmpty { break }
                guard let colon = line.firstIndex(of: ":") else { throw HTTPTestClientError.malformed("field \(line)") }
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
            func field(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
            var body: [UInt8] = []
            if headRequest || status == 204 || status == 304 {
                // RFC 9112 §6.3 rule 1: no content.
            } else if field("transfer-encoding")?.lowercased() == "chunked" {
                while true {
                    guard let sizeLine = try readLine() else { throw HTTPTestClientError.malformed("chunk size missing") }
                    let digits = sizeLine.split(separator: ";").first.map(String.init) ?? ""
                    guard let size = Int(digits.trimmingCharacters(in: .whitespaces), radix: 16) else {
                        throw HTTPTestClientError.malformed("chunk size \(sizeLine)")
                    }
                    if size == 0 {
                        while let trailer = try readLine(), !trailer.isEmpty {}
                        break
                    }
                    body += try readExactly(size)
                    guard try readLine() == "" else { throw HTTPTestClientError.malformed("chunk not followed by CRLF") }
                }
            } else if let length = field("content-length") {
                guard let n = Int(length), n >= 0 else { throw HTTPTestClientError.malformed("Content-Length \(length)") }
                body = try readExactly(n)
            } else {
                while try fill() {}
                body = buffer
                buffer = []
            }
            return HTTPTestResponse(status: status, headers: headers, body: body)
        }
    }
}
