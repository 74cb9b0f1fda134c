#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A request body written to a temporary file; the file is removed when the value is released.
public final class SpooledBody: Sendable {
    public let path: String
    public let byteCount: Int

    init(path: String, byteCount: Int) {
        self.path = path
        self.byteCount = byteCount
    }

    deinit { unlink(path) }
}

extension HTTPRequestBody {
    /// Writes the body to a new file in `directory` as it arrives, never holding more than one chunk in
    /// memory; throws `HTTPError.contentTooLarge` past `maxBytes` (and removes the partial file).
    public func spool(upTo maxBytes: Int, in directory: String = "/tmp") async throws -> SpooledBody {
        var template = Array("\(directory)/http-body-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SocketError.systemCall("mkstemp in \(directory)", errno: errno) }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { close(fd) }
        var total = 0
        do {
            for try await chunk in limited(to: maxBytes) {
                var offset = 0
                while offset < chunk.count {
                    let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress! + offset, chunk.count - offset) }
                    guard n > 0 else { throw SocketError.systemCall("write \(path)", errno: errno) }
                    offset += n
                }
                total += chunk.count
            }
        } catch {
            unlink(path)
            throw error
        }
        return SpooledBody(path: path, byteCount: total)
    }
}
