#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The outcome of one non-blocking read or write.
enum IOResult: Equatable {
    case bytes(Int)
    case wouldBlock
    case endOfFile
    case failed(Int32)
}

/// A non-blocking TCP socket: thin, HTTP-agnostic wrappers over the POSIX calls.
struct Socket: Sendable, Hashable {
    let fd: Int32

    /// A listening socket bound to `address`, with SO_REUSEADDR, non-blocking, close-on-exec.
    static func listen(on address: SocketAddress, backlog: Int32) throws -> Socket {
        let domain = address.family == .ipv6 ? AF_INET6 : AF_INET
        let fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError.systemCall("socket", errno: errno) }
        let socket = Socket(fd: fd)
        do {
            try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
            if address.family == .ipv6 { try socket.setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
            try address.withSockAddr { addr, length in
                guard bind(fd, addr, length) == 0 else { throw SocketError.systemCall("bind \(address)", errno: errno) }
            }
            guard Glibc.listen(fd, backlog) == 0 else { throw SocketError.systemCall("listen", errno: errno) }
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// Accepts one pending connection, made non-blocking and close-on-exec; nil when none is pending.
    func accept() throws -> (Socket, SocketAddress?)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.accept(fd, $0, &length)
            }
        }
        if client < 0 {
            switch errno {
            case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO: return nil
            case let code: throw SocketError.systemCall("accept", errno: code)
            }
        }
        // accept4(2) is not exported to Swift by Glibc; set the flags with fcntl(2) instead.
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        let socket = Socket(fd: client)
        try? socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        return (socket, SocketAddress(storage: storage))
    }

    func setOption(_ level: Int32, _ name: Int32, _ value: Int32) throws {
        var value = value
        guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SocketError.systemCall("setsockopt \(name)", errno: errno)
        }
    }

    /// The address the socket is bound to (with the system-chosen port when bound to port 0).
    func localAddress() throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0, let address = SocketAddress(storage: storage) else {
            throw SocketError.systemCall("getsockname", errno: errno)
        }
        return address
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
        if n > 0 { return .bytes(n) }
        if n == 0 { return .endOfFile }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return .wouldBlock
        case let code: return .failed(code)
        }
    }

    /// Looks at the next byte without consuming it: `.bytes(1)` when data waits, `.endOfFile` when
    /// the peer has closed its side, `.wouldBlock` when nothing has arrived.
    func peek() -> IOResult {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n > 0 { return .bytes(n) }
        if n == 0 { return .endOfFile }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return .wouldBlock
        case let code: return .failed(code)
        }
    }

    /// The next byte without consuming it, or why there is none.
    func peekByte() -> (IOResult, UInt8) {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n > 0 { return (.bytes(n), byte) }
        if n == 0 { return (.endOfFile, 0) }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return (.wouldBlock, 0)
        case let code: return (.failed(code), 0)
        }
    }

    /// Writes without raising SIGPIPE when the peer has gone.
    func write(_ buffer: UnsafeRawBufferPointer) -> IOResult {
        let n = send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
        if n >= 0 { return .bytes(n) }
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return .wouldBlock
        case let code: return .failed(code)
        }
    }

    /// sendfile(2): copies up to `count` bytes of `file` from `offset` to the socket inside the kernel.
    func sendFile(_ file: Int32, offset: Int, count: Int) -> IOResult {
        var off = off_t(offset)
        let n = sendfile(fd, file, &off, count)
        if n > 0 { return .bytes(n) }
        if n == 0 { return .endOfFile }  // the file is shorter than announced
        switch errno {
        case EAGAIN, EWOULDBLOCK, EINTR: return .wouldBlock
        case let code: return .failed(code)
        }
    }

    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    func close() { _ = Glibc.close(fd) }
}
