import HTTPServer

/// How the hub routes' errors read to `huggingface_hub`: it maps `X-Error-Code` to its exception
/// types (`RepositoryNotFoundError`, `RevisionNotFoundError`, `EntryNotFoundError`) and shows
/// `X-Error-Message` (checked against `hf_raise_for_status` in 0.19.4, 1.31.0 and 2.4.0). The body
/// stays problem+json like every other error of the service.
enum HubErrors {
    static let codeHeader = "X-Error-Code"
    static let messageHeader = "X-Error-Message"
    /// The longest `X-Error-Message` sent; the body has the whole detail.
    static let maxMessageLength = 512

    static let repoNotFound = "RepoNotFound"
    static let revisionNotFound = "RevisionNotFound"
    static let entryNotFound = "EntryNotFound"

    /// A 404 that names the missing thing in the client's own terms.
    static func notFound(_ code: String, _ detail: String) -> HTTPError {
        HTTPError(.notFound, type: "not-found", detail: detail, headers: [codeHeader: code])
    }

    /// Adds the hub headers to an error a hub route answers with. A 404 that names no code is a
    /// repository the caller cannot see (unknown, or outside its namespace). A request without a
    /// token is answered as the Hub answers one for a private repository: 401 with `RepoNotFound`,
    /// which the client raises as `RepositoryNotFoundError` telling the user to authenticate. A bad
    /// token stays a plain 401, and a token without the read scope a 403, as on the Hub.
    @Sendable static func refine(_ error: HTTPError) -> HTTPError {
        var refined = error
        if refined.headers[codeHeader] == nil {
            if error.status == .notFound || (error.status == .unauthorized && error.type == "unauthenticated") {
                refined.headers[codeHeader] = repoNotFound
            }
        }
        refined.headers[messageHeader] = headerSafe(error.detail)
        return refined
    }

    /// `text` as a header value: printable ASCII only (anything else becomes `?`), at most
    /// `maxMessageLength` characters.
    static func headerSafe(_ text: String) -> String {
        String(decoding: text.utf8.prefix(maxMessageLength).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") },
               as: UTF8.self)
    }
}
