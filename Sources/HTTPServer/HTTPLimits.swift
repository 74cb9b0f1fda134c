// Every bound the server enforces, in one value: each limit named, and tested at its bound and one past.
// Each field names the status a client receives when it is crossed.

/// Size, count and time limits for parsing and serving HTTP/1.1 requests.
///
/// The defaults follow nginx where nginx has an equivalent directive
/// (`large_client_header_buffers`, `client_header_timeout`, `keepalive_requests`, …).
public struct HTTPLimits: Sendable, Equatable {
    // MARK: Parser limits

    /// Longest request line, CRLF excluded (RFC 9112 §3). Longer → 414 URI Too Long.
    public var maxRequestLineBytes: Int = 8 * 1024
    /// Longest single header field line, CRLF excluded (RFC 9112 §5). Longer → 431.
    public var maxHeaderFieldBytes: Int = 8 * 1024
    /// Largest header section: all field lines with their CRLFs (RFC 9112 §2.1). Larger → 431.
    public var maxHeaderSectionBytes: Int = 32 * 1024
    /// Most header field lines in one request. More → 431.
    public var maxHeaderFieldCount: Int = 100
    /// Largest request body the parser accepts on any route; routes may set lower limits. Larger → 413.
    public var maxBodyBytes: Int = 1 << 30
    /// Most hex digits in a chunk-size (RFC 9112 §7.1). More → 400.
    public var maxChunkSizeDigits: Int = 16
    /// Longest chunk extension of one chunk, from the first `;` or BWS (RFC 9112 §7.1.1). Longer → 400.
    public var maxChunkExtensionBytes: Int = 1024
    /// Largest trailer section after the last chunk, CRLFs included (RFC 9112 §7.1.2). Larger → 431.
    public var maxTrailerSectionBytes: Int = 8 * 1024
    /// Most trailer field lines after the last chunk. More → 431.
    public var maxTrailerFieldCount: Int = 32

    // MARK: Connection limits and timeouts

    /// Most open client connections; the next one gets 503 and is closed.
    public var maxConnections: Int = 4096
    /// File descriptors never given to connections: one that would leave fewer free (RLIMIT_NOFILE
    /// less this) gets 503 and is closed, as past `maxConnections`. Files, sockets and libdispatch need
    /// them — on Linux libdispatch crashes the process when its worker monitor cannot open /proc.
    public var reservedDescriptors: Int = 32
    /// Most requests served on one connection; the last response carries `Connection: close`.
    public var maxRequestsPerConnection: Int = 1000
    /// Time allowed to receive a whole request head, from its first byte (or from accept) → 408.
    /// Counted from the start, not reset by each byte, so a slow-loris client cannot extend it.
    public var headerTimeout: Duration = .seconds(10)
    /// Longest pause between two reads of a request body → 408.
    public var bodyIdleTimeout: Duration = .seconds(30)
    /// How long an idle keep-alive connection is kept open between requests; then closed silently.
    public var keepAliveIdleTimeout: Duration = .seconds(75)
    /// Time a handler may take to produce a response head → 503 and the connection closes.
    public var handlerTimeout: Duration = .seconds(60)
    /// Longest pause in sending a response while the client does not read; then the connection is aborted.
    public var sendIdleTimeout: Duration = .seconds(60)
    /// How long a closing connection keeps reading and discarding what the client still sends,
    /// so that the client sees the final response rather than a TCP reset (nginx `lingering_time`).
    public var lingerTimeout: Duration = .seconds(2)

    public init() {}

    /// The defaults.
    public static let `default` = HTTPLimits()
}
