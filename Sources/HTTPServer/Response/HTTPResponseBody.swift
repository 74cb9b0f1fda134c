#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file that is closed when the last response using it is released.
public final class OpenFile: Sendable {
    public let fd: Int32
    public let path: String

    /// Opens `path` read-only.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SocketError.systemCall("open \(path)", errno: errno) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// What fstat(2) says about the file.
    public struct Status: Sendable, Hashable {
        public var size: Int
        public var modifiedSeconds: Int
        public var modifiedNanoseconds: Int
        public var inode: UInt64
        public var isRegularFile: Bool
    }

    public func status() throws -> Status {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SocketError.systemCall("fstat \(path)", errno: errno) }
        return Status(size: Int(info.st_size), modifiedSeconds: Int(info.st_mtim.tv_sec),
                      modifiedNanoseconds: Int(info.st_mtim.tv_nsec), inode: UInt64(info.st_ino),
                      isRegularFile: (info.st_mode & S_IFMT) == S_IFREG)
    }
}

/// How a response body is produced.
public enum HTTPResponseBody: Sendable {
    case empty
    /// Bytes in memory, sent with Content-Length.
    case bytes([UInt8])
    /// Produced while it is sent. With a `length`, sent with Content-Length and the writer must write
    /// exactly that many bytes; without, sent chunked (RFC 9112 §7.1), or close-delimited to HTTP/1.0.
    case stream(length: Int?, @Sendable (HTTPBodyWriter) async throws -> Void)
    /// `length` bytes of `file` from `offset`, sent with sendfile(2).
    case file(OpenFile, offset: Int, length: Int)

    /// The length when known before sending.
    var knownLength: Int? {
        switch self {
        case .empty: 0
        case .bytes(let bytes): bytes.count
        case .stream(let length, _): length
        case .file(_, _, let length): length
        }
    }
}

/// Writes a streaming response body; each `write` waits while the client is slower than the handler.
public final class HTTPBodyWriter: Sendable {
    let sink: @Sendable ([UInt8]) async throws -> Void

    init(sink: @escaping @Sendable ([UInt8]) async throws -> Void) {
        self.sink = sink
    }

    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await sink(bytes)
    }

    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }
}
