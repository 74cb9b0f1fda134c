import HTTPServer

/// Keeps tokens out of logs, problem details and the audit log: a client that puts a token where
/// it does not belong (a URL, a name) must not have it written down. Every `lsq_` followed by
/// base62 characters becomes `lsq_[redacted]`.
enum SecretRedaction {
    static let replacement = AccessToken.prefix + "[redacted]"

    static func redact(_ text: String) -> String {
        // Most texts (every access-log path) hold no `lsq_`: found by a byte scan, not Foundation's
        // string search.
        let prefix = Array(AccessToken.prefix.utf8)
        let utf8 = text.utf8
        guard let first = prefix.first, utf8.count >= prefix.count else { return text }
        var candidate = utf8.startIndex
        var found = false
        while let at = utf8[candidate...].firstIndex(of: first) {
            if utf8[at...].starts(with: prefix) {
                found = true
                break
            }
            candidate = utf8.index(after: at)
        }
        guard found else { return text }
        let bytes = Array(utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i...].starts(with: prefix) {
                var end = i + prefix.count
                while end < bytes.count, AccessToken.isBase62(bytes[end]) { end += 1 }
                if end > i + prefix.count {
                    out += Array(replacement.utf8)
                    i = end
                    continue
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func redact(_ error: HTTPError) -> HTTPError {
        var redacted = error
        redacted.detail = redact(error.detail)
        return redacted
    }
}

/// Redacts tokens from the details of errors thrown by the handlers inside it (the router's own
/// 404 and 405 name the path).
struct RedactingMiddleware: HTTPMiddleware {
    func handle(_ request: HTTPRequest, next: any HTTPHandler) async throws -> HTTPResponse {
        do { return try await next.handle(request) } catch let error as HTTPError {
            throw SecretRedaction.redact(error)
        }
    }

    func respondImmediately(to request: HTTPRequest, next: any HTTPHandler) throws -> HTTPResponse? {
        do { return try next.respondImmediately(to: request) } catch let error as HTTPError {
            throw SecretRedaction.redact(error)
        }
    }
}
