#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A numeric IPv4 or IPv6 address and a TCP port. Port 0 asks the system for a free port.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case ipv4, ipv6 }

    public var host: String
    public var port: UInt16
    public var family: Family { host.contains(":") ? .ipv6 : .ipv4 }

    /// `host` is a numeric address such as "127.0.0.1", "0.0.0.0", "::1" or "::".
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public static func loopbackIPv4(port: UInt16 = 0) -> SocketAddress { .init(host: "127.0.0.1", port: port) }
    public static func loopbackIPv6(port: UInt16 = 0) -> SocketAddress { .init(host: "::1", port: port) }
    public static func anyIPv4(port: UInt16) -> SocketAddress { .init(host: "0.0.0.0", port: port) }
    public static func anyIPv6(port: UInt16) -> SocketAddress { .init(host: "::", port: port) }

    public var description: String { family == .ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls `body` with this address as a `sockaddr`.
    func withSockAddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> T) throws -> T {
        switch family {
        case .ipv4:
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { throw SocketError.invalidAddress(host) }
            return try withUnsafePointer(to: &addr) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    try body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .ipv6:
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &addr.sin6_addr) == 1 else { throw SocketError.invalidAddress(host) }
            return try withUnsafePointer(to: &addr) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    try body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }

    /// Reads an address filled in by accept(2) or getsockname(2).
    init?(storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let addr = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            var sinAddr = addr.sin_addr
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            guard inet_ntop(AF_INET, &sinAddr, &text, socklen_t(text.count)) != nil else { return nil }
            self.init(host: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                      port: UInt16(bigEndian: addr.sin_port))
        case AF_INET6:
            let addr = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            var sinAddr = addr.sin6_addr
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &sinAddr, &text, socklen_t(text.count)) != nil else { return nil }
            self.init(host: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                      port: UInt16(bigEndian: addr.sin6_port))
        default:
            return nil
        }
    }
}
