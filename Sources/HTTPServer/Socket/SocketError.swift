#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed socket call, naming the call and the system's reason.
public enum SocketError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidAddress(String)
    case systemCall(String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidAddress(let host): "\"\(host)\" is not a numeric IPv4 or IPv6 address"
        case .systemCall(let call, let code): "\(call) failed: \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}
