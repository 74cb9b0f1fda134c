#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One piece of a composite body: bytes in memory, or a region of an open file.
public enum BodySegment: Sendable {
    case bytes([UInt8])
    case file(OpenFile, offset: Int, length: Int)

    var length: Int {
        switch self {
        case let .bytes(b): b.count
        case let .file(_, _, length): length
        }
    }
}

extension HTTPResponse {
    /// A body assembled from segments (an archive of stored files, say) with the same validators and
    /// range handling as `file(path:…)`: `If-None-Match` → 304, one `Range` → 206 or 416, `If-Range`.
    /// Files are read in 1 MiB pieces with pread(2), so memory stays bounded.
    public static func segments(_ segments: [BodySegment], contentType: String, etag: String,
                                request: HTTPRequest) -> HTTPResponse {
        let size = segments.reduce(0) { $0 + $1.length }
        var headers: HTTPHeaders = ["Content-Type": contentType, "ETag": etag, "Accept-Ranges": "bytes"]
        if let ifNoneMatch = request.headers["If-None-Match"], ETag.anyMatches(ifNoneMatch, etag, weak: true) {
            return HTTPResponse(status: .notModified, headers: headers)
        }
        var selection: ByteRange.Selection = .whole
        if let range = request.headers["Range"] {
            let ifRange = request.headers["If-Range"]
            if ifRange == nil || ETag.anyMatches(ifRange!, etag, weak: false) {
                selection = ByteRange.select(range, size: size)
            }
        }
        let (lower, upper): (Int, Int)
        let status: HTTPStatus
        switch selection {
        case .whole:
            (lower, upper, status) = (0, size - 1, .ok)
        case let .partial(l, u):
            (lower, upper, status) = (l, u, .partialContent)
            headers["Content-Range"] = "bytes \(l)-\(u)/\(size)"
        case .unsatisfiable:
            var problem = HTTPResponse.problem(
                HTTPError(.rangeNotSatisfiable, type: "range-not-satisfiable",
                          detail: "the range is outside the \(size) bytes of this resource"),
                requestID: request.requestID)
            problem.headers["Content-Range"] = "bytes */\(size)"
            problem.headers["ETag"] = etag
            return problem
        }
        let length = max(0, upper - lower + 1)
        return HTTPResponse(status: status, headers: headers, body: .stream(length: length) { writer in
            var position = 0
            for segment in segments {
                let start = max(lower, position), end = min(upper + 1, position + segment.length)
                defer { position += segment.length }
                guard start < end else { continue }
                switch segment {
                case let .bytes(b):
                    try await writer.write(Array(b[(start - position)..<(end - position)]))
                case let .file(file, offset, _):
                    var at = offset + (start - position)
                    var remaining = end - start
                    while remaining > 0 {
                        let count = min(remaining, 1 << 20)
                        var chunk = [UInt8](repeating: 0, count: count)
                        let got = chunk.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, count, off_t(at)) }
                        guard got > 0 else { throw SocketError.systemCall("pread \(file.path)", errno: errno) }
                        if got < count { chunk.removeLast(count - got) }
                        try await writer.write(chunk)
                        at += got
                        remaining -= got
                    }
                }
            }
        })
    }
}
