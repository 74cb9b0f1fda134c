/// What the parser found next in the bytes it was given.
public enum HTTPParserEvent: Sendable, Hashable {
    /// A complete, validated request head. Body events (if any) and `.end` follow.
    case head(HTTPRequestHead)
    /// The next piece of the request body, with any chunked framing removed.
    case body([UInt8])
    /// The request is complete; `trailers` holds the trailer fields of a chunked body.
    case end(trailers: HTTPHeaders)
}

/// An incremental, strict HTTP/1.1 request parser (RFC 9112), a value over bytes: it never touches a
/// socket. Feed bytes with `append(_:)`, then call `next()` until it returns nil (more bytes needed).
/// Requests follow one another on the same parser, so pipelined requests come out in order.
///
/// After an error, every further `next()` throws the same error: the framing of anything that follows
/// cannot be trusted (RFC 9112 §6.3), so the connection must be closed after answering `error.status`.
public struct HTTPRequestParser: Sendable {
    public let limits: HTTPLimits

    var buffer: [UInt8] = []
    /// First byte not yet consumed.
    var index = 0
    /// Where the scan for the next LF resumes, so byte-at-a-time feeding stays linear.
    var scanPosition = 0
    var state: State = .requestLine(leadingBytes: 0)

    enum State: Sendable {
        case requestLine(leadingBytes: Int)
        case headerFields(PartialHead)
        case fixedBody(remaining: Int)
        case chunkHeader(bodyBytes: Int)
        case chunkData(remaining: Int, bodyBytes: Int)
        case chunkDataEnd(bodyBytes: Int)
        case trailers(HTTPHeaders, sectionBytes: Int)
        case endPending
        case failed(HTTPParseError)
    }

    struct PartialHead: Sendable {
        var method: HTTPMethod
        var target: String
        var version: HTTPVersion
        var fields: [HTTPField] = []
        var sectionBytes = 0
    }

    public init(limits: HTTPLimits = .default) {
        self.limits = limits
    }

    /// Bytes received but not yet returned in an event.
    public var bufferedByteCount: Int { buffer.count - index }

    /// True between messages with no byte of the next one received.
    public var isAtMessageBoundary: Bool {
        if case .requestLine(let leading) = state { return leading == 0 && bufferedByteCount == 0 }
        return false
    }

    /// True while a request line or header section is being received (or is due next).
    public var isReadingHead: Bool {
        switch state {
        case .requestLine, .headerFields: true
        default: false
        }
    }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Adds received bytes from raw memory.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Signals that the peer sent everything it will send; throws `.incompleteMessage`
    /// when that happened in the middle of a request (RFC 9112 §8).
    public func finish() throws(HTTPParseError) {
        if case .failed(let error) = state { throw error }
        guard isAtMessageBoundary else { throw .incompleteMessage }
    }

    /// The next event, or nil when more bytes are needed.
    public mutating func next() throws(HTTPParseError) -> HTTPParserEvent? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step() throws(HTTPParseError) -> HTTPParserEvent? {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .requestLine(let leading):
                let limit = limits.maxRequestLineBytes
                guard let line = try nextLine(maxLength: limit, tooLong: .requestLineTooLong(limit: limit)) else {
                    return nil
                }
                if line.isEmpty {
                    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before the
                    // request-line. They are counted against the request-line limit so they stay bounded.
                    guard leading + 2 <= limit else { throw .requestLineTooLong(limit: limit) }
                    state = .requestLine(leadingBytes: leading + 2)
                    continue
                }
                state = .headerFields(try parseRequestLine(buffer[line]))
            case .headerFields(var head):
                state = .endPending  // placeholder, so `head` is uniquely referenced while it grows
                switch try parseHeaderLine(&head) {
                case .needMore:
                    state = .headerFields(head)
                    return nil
                case .field:
                    state = .headerFields(head)
                case .complete(let event):
                    return event
                }
            case .fixedBody(let remaining):
                let take = min(remaining, bufferedByteCount)
                guard take > 0 else { return nil }
                let chunk = Array(buffer[index..<index + take])
                index += take
                scanPosition = index
                state = remaining == take ? .endPending : .fixedBody(remaining: remaining - take)
                return .body(chunk)
            case .endPending:
                state = .requestLine(leadingBytes: 0)
                return .end(trailers: [:])
            case .chunkHeader(let bodyBytes):
                guard try parseChunkHeader(bodyBytes: bodyBytes) else { return nil }
            case .chunkData(let remaining, let bodyBytes):
                let take = min(remaining, bufferedByteCount)
                guard take > 0 else { return nil }
                let chunk = Array(buffer[index..<index + take])
                index += take
                scanPosition = index
                state = remaining == take
                    ? .chunkDataEnd(bodyBytes: bodyBytes)
                    : .chunkData(remaining: remaining - take, bodyBytes: bodyBytes)
                return .body(chunk)
            case .chunkDataEnd(let bodyBytes):
                // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
                if bufferedByteCount >= 1, buffer[index] != ASCII.cr { throw .missingChunkTerminator }
                guard bufferedByteCount >= 2 else { return nil }
                guard buffer[index + 1] == ASCII.lf else { throw .missingChunkTerminator }
                index += 2
                scanPosition = index
                state = .chunkHeader(bodyBytes: bodyBytes)
            case .trailers(var trailers, let sectionBytes):
                guard let event = try parseTrailerLine(&trailers, sectionBytes: sectionBytes) else {
                    return nil
                }
                return event
            }
        }
    }

    /// Returns the range of the next line's content (CRLF excluded) and consumes it, or nil when no
    /// complete line is buffered yet. RFC 9112 §2.2: lines end in CRLF; a bare LF or a bare CR is
    /// rejected here rather than tolerated, so no two parsers can disagree about where a line ends.
    mutating func nextLine(maxLength: Int, tooLong: HTTPParseError) throws(HTTPParseError) -> Range<Int>? {
        var p = max(scanPosition, index)
        let end = buffer.count
        while p < end {
            let b = buffer[p]
            if b == ASCII.lf {
                guard p > index, buffer[p - 1] == ASCII.cr else { throw .bareLF }
                let line = index..<(p - 1)
                index = p + 1
                scanPosition = index
                return line
            }
            if p > index, buffer[p - 1] == ASCII.cr { throw .bareCR }
            let length = b == ASCII.cr ? p - index : p - index + 1
            if length > maxLength { throw tooLong }
            p += 1
        }
        scanPosition = p
        return nil
    }

    /// Drops consumed bytes once they are the larger part of the buffer.
    private mutating func compact() {
        guard index > 0 else { return }
        if index == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            scanPosition = 0
            index = 0
        } else if index >= 4096, index * 2 >= buffer.count {
            buffer.removeFirst(index)
            scanPosition -= index
            index = 0
        }
    }
}
