#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Free bytes in the file system that holds the data directory (blocking: call it off the cooperative
/// threads). One method, so tests can stand in a full disk.
public protocol FreeSpaceProbe: Sendable {
    func freeBytes() throws -> Int64
}

/// `statvfs(2)` of a path: the blocks available to an unprivileged process, times the block size.
public struct FileSystemFreeSpace: FreeSpaceProbe {
    public let path: String

    public init(path: String) { self.path = path }

    public func freeBytes() throws -> Int64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { throw FreeSpaceError(path: path, errno: errno) }
        let (bytes, overflow) = Int64(clamping: info.f_bavail).multipliedReportingOverflow(by: Int64(clamping: info.f_frsize))
        return overflow ? .max : bytes
    }
}

/// statvfs failed on the data directory.
struct FreeSpaceError: Error, CustomStringConvertible {
    let path: String
    let errno: Int32
    var description: String { "statvfs \(path): \(String(cString: strerror(errno)))" }
}
