/// Files with validators and ranges: ETag / If-None-Match (RFC 9110 §8.8.3, §13.1.2), Range /
/// If-Range (RFC 9110 §14), sent with sendfile(2).
extension HTTPResponse {
    /// Serves the regular file at `path` for `request` (GET or HEAD):
    /// - `If-None-Match` matching the ETag → 304 (weak comparison, `*` matches);
    /// - one satisfiable `Range: bytes=…` → 206 with Content-Range; unsatisfiable → 416 with
    ///   `Content-Range: bytes */size`;
    /// - several ranges, another unit, a syntactically invalid Range, or an `If-Range` that does not
    ///   match → the whole file with 200 (RFC 9110 §14.2 lets a server ignore Range; multipart/byteranges
    ///   is not implemented).
    /// Throws `HTTPError.notFound` when the file cannot be opened or is not a regular file.
    /// `etag` replaces the default validator (inode, size and modification time) — e.g. a content
    /// digest, which stays the same across copies and restarts.
    public static func file(path: String, contentType: String = "application/octet-stream",
                            etag customETag: String? = nil, request: HTTPRequest) throws -> HTTPResponse {
        let file: OpenFile
        let status: OpenFile.Status
        do {
            file = try OpenFile(path: path)
            status = try file.status()
        } catch {
            throw HTTPError.notFound("no file for \(request.path)")
        }
        guard status.isRegularFile else { throw HTTPError.notFound("no file for \(request.path)") }
        let etag = customETag ?? "\"\(String(status.inode, radix: 16))-\(String(status.size, radix: 16))-"
            + "\(String(status.modifiedSeconds, radix: 16))\(String(status.modifiedNanoseconds, radix: 16))\""
        var headers: HTTPHeaders = [
            "Content-Type": contentType,
            "ETag": etag,
            "Last-Modified": HTTPDate.format(epochSeconds: status.modifiedSeconds),
            "Accept-Ranges": "bytes",
        ]

        // RFC 9110 §13.2.2: If-None-Match is evaluated before Range; for GET/HEAD a match is 304.
        if let ifNoneMatch = request.headers["If-None-Match"], ETag.anyMatches(ifNoneMatch, etag, weak: true) {
            return HTTPResponse(status: .notModified, headers: headers)
        }

        var range: ByteRange.Selection = .whole
        if let rangeHeader = request.headers["Range"] {
            // RFC 9110 §13.1.5: If-Range with a validator that does not match strongly → ignore Range.
            let ifRange = request.headers["If-Range"]
            if ifRange == nil || ETag.anyMatches(ifRange!, etag, weak: false) {
                range = ByteRange.select(rangeHeader, size: status.size)
            }
        }
        switch range {
        case .whole:
            return HTTPResponse(status: .ok, headers: headers, body: .file(file, offset: 0, length: status.size))
        case .partial(let lower, let upper):
            headers["Content-Range"] = "bytes \(lower)-\(upper)/\(status.size)"
            return HTTPResponse(status: .partialContent, headers: headers,
                                body: .file(file, offset: lower, length: upper - lower + 1))
        case .unsatisfiable:
            headers["Content-Range"] = "bytes */\(status.size)"
            var problem = HTTPResponse.problem(
                HTTPError(.rangeNotSatisfiable, type: "range-not-satisfiable",
                          detail: "the range is outside the \(status.size) bytes of this resource"),
                requestID: request.requestID)
            for field in headers where !field.name.equalsIgnoringASCIICase("Content-Type") {
                problem.headers[field.name] = field.value
            }
            return problem
        }
    }
}

enum ETag {
    /// RFC 9110 §8.8.3.2: strong comparison needs both tags strong and identical; weak comparison
    /// ignores the W/ prefix. `*` matches any current representation.
    static func anyMatches(_ header: String, _ etag: String, weak: Bool) -> Bool {
        for candidate in header.split(separator: ",").map({ $0.trimmingOWS() }) {
            if candidate == "*" { return true }
            if weak {
                if strip(candidate) == strip(etag) { return true }
            } else if !candidate.hasPrefix("W/"), candidate == etag {
                return true
            }
        }
        return false
    }

    private static func strip(_ tag: String) -> String { tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag }
}

/// Single byte ranges (RFC 9110 §14.1.2).
enum ByteRange {
    enum Selection: Equatable {
        case whole
        case partial(Int, Int)
        case unsatisfiable
    }

    /// Interprets a Range field for a representation of `size` bytes.
    static func select(_ header: String, size: Int) -> Selection {
        let trimmed = header.trimmingOWS()
        guard let equals = trimmed.firstIndex(of: "="),
              trimmed[..<equals].trimmingOWS().equalsIgnoringASCIICase("bytes") else { return .whole }
        let spec = trimmed[trimmed.index(after: equals)...].trimmingOWS()
        guard !spec.contains(",") else { return .whole }  // several ranges: served whole (documented)
        guard let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = String(spec[..<dash]), last = String(spec[spec.index(after: dash)...])
        func number(_ text: String) -> Int? {
            guard !text.isEmpty, text.utf8.allSatisfy(ASCII.isDigit), text.utf8.count <= 18 else { return nil }
            return Int(text)
        }
        if first.isEmpty {
            // suffix-range: the last N bytes
            guard let suffix = number(last) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .partial(max(0, size - suffix), size - 1)
        }
        guard let lower = number(first) else { return .whole }
        let upper: Int
        if last.isEmpty {
            upper = size - 1
        } else {
            guard let value = number(last) else { return .whole }
            guard value >= lower else { return .whole }  // invalid: ignored (RFC 9110 §14.1.1)
            upper = min(value, size - 1)
        }
        guard lower < size else { return .unsatisfiable }
        return .partial(lower, upper)
    }
}
