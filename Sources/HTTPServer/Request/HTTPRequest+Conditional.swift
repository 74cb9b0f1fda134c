extension HTTPRequest {
    /// Whether `If-None-Match` matches `etag` (RFC 9110 §13.1.2: weak comparison, `*` matches any),
    /// for handlers that answer 304 before producing a body they would stream.
    public func ifNoneMatchMatches(_ etag: String) -> Bool {
        guard let header = headers["If-None-Match"] else { return false }
        return ETag.anyMatches(header, etag, weak: true)
    }
}
