#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A streaming `multipart/form-data` parser (RFC 7578 over RFC 2046 §5.1): a pure value fed the
/// body's bytes in chunks of any size, yielding events with bounded memory — part data is passed on
/// as it arrives, only a delimiter's length of bytes is ever held back.
///
///     var parser = try MultipartParser(boundary: "xyz")
///     for chunk in body { for event in try parser.feed(chunk) { … } }
///     for event in try parser.finish() { … }
public struct MultipartParser: Sendable {
    public enum Event: Sendable, Equatable {
        /// A part begins; its headers (names lower-cased, as parsed) and its Content-Disposition.
        case partBegin(MultipartPartHead)
        /// Bytes of the current part's content.
        case partData([UInt8])
        /// The current part's content is complete.
        case partEnd
    }

    /// Bounds on what a body may make the parser hold.
    public struct Limits: Sendable, Equatable {
        /// Bytes of one part's header section (default 16 KiB).
        public var maxPartHeaderBytes = 16 * 1024
        /// Parts in one body (default 16: an adapter upload has two).
        public var maxParts = 16
        /// Bytes before the first boundary (default 16 KiB).
        public var maxPreambleBytes = 16 * 1024
        public init() {}
    }

    /// RFC 2046 §5.1.1: a boundary is 1–70 characters from a restricted set, not ending in a space.
    public static let maxBoundaryLength = 70
    /// Spaces and tabs accepted after a boundary line before its CRLF (RFC 2046 §5.1.1 transport padding).
    public static let maxTransportPadding = 64

    private enum State { case preamble, headers, body, afterDelimiter, epilogue }

    private let delimiter: [UInt8]       // CRLF "--" boundary
    private let limits: Limits
    private var state = State.preamble
    private var buffer: [UInt8]
    private var parts = 0
    private var preambleSeen = 0

    public init(boundary: String, limits: Limits = .init()) throws(MultipartError) {
        let b = Array(boundary.utf8)
        guard (1...Self.maxBoundaryLength).contains(b.count), b.last != UInt8(ascii: " "),
              b.allSatisfy(Self.isBoundaryCharacter) else { throw .invalidBoundary(boundary) }
        delimiter = Array("\r\n--".utf8) + b
        self.limits = limits
        // The first delimiter may open the body without a preceding CRLF: pretend one was there.
        buffer = Array("\r\n".utf8)
    }

    /// The boundary parameter of a `multipart/form-data` Content-Type, or nil if it is not one.
    public static func boundary(fromContentType value: String) -> String? {
        let parts = value.split(separator: ";").map { $0.trimmingSpaces }
        guard let first = parts.first, first.lowercased() == "multipart/form-data" else { return nil }
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, kv[0].trimmingSpaces.lowercased() == "boundary" else { continue }
            var v = kv[1].trimmingSpaces
            if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
            return v
        }
        return nil
    }

    public mutating func feed(_ bytes: [UInt8]) throws(MultipartError) -> [Event] {
        buffer += bytes
        var events: [Event] = []
        try process(&events)
        return events
    }

    /// The body ended: anything but a closed multipart (final `--boundary--`) is an error.
    public mutating func finish() throws(MultipartError) -> [Event] {
        var events: [Event] = []
        try process(&events)
        guard state == .epilogue else { throw .truncated }
        return events
    }

    private mutating func process(_ events: inout [Event]) throws(MultipartError) {
        while true {
            switch state {
            case .preamble:
                // `preambleSeen` counts the 2 virtual CRLF bytes too; the limit is on the body's own bytes.
                if let at = find(delimiter, in: buffer) {
                    guard preambleSeen + at <= limits.maxPreambleBytes + 2 else { throw .preambleTooLarge(limit: limits.maxPreambleBytes) }
                    buffer.removeFirst(at + delimiter.count)
                    state = .afterDelimiter
                } else {
                    let keep = min(buffer.count, delimiter.count - 1)
                    preambleSeen += buffer.count - keep
                    guard preambleSeen <= limits.maxPreambleBytes + 2 else { throw .preambleTooLarge(limit: limits.maxPreambleBytes) }
                    buffer.removeFirst(buffer.count - keep)
                    return
                }
            case .afterDelimiter:
                // "--" closes the body; otherwise optional transport padding (LWSP) then CRLF.
                guard buffer.count >= 2 else { return }
                if buffer[0] == UInt8(ascii: "-") && buffer[1] == UInt8(ascii: "-") {
                    buffer.removeAll()
                    state = .epilogue
                    continue
                }
                var i = 0
                while i < buffer.count, buffer[i] == UInt8(ascii: " ") || buffer[i] == UInt8(ascii: "\t") { i += 1 }
                // At most `maxTransportPadding` bytes of padding, whether or not the CRLF has arrived yet
                // (the answer must not depend on how the body is split).
                guard i <= Self.maxTransportPadding else { throw .malformedDelimiter }
                guard i + 1 < buffer.count else { return }
                guard buffer[i] == 0x0D, buffer[i + 1] == 0x0A else { throw .malformedDelimiter }
                buffer.removeFirst(i + 2)
                parts += 1
                guard parts <= limits.maxParts else { throw .tooManyParts(limit: limits.maxParts) }
                state = .headers
            case .headers:
                let end = Array("\r\n\r\n".utf8)
                // A part with no headers at all starts its content straight after one CRLF.
                if buffer.count >= 2, buffer[0] == 0x0D, buffer[1] == 0x0A {
                    buffer.removeFirst(2)
                    events.append(.partBegin(MultipartPartHead(headers: [])))
                    state = .body
                    continue
                }
                guard let at = find(end, in: buffer) else {
                    // A section of exactly the limit ends "…\r\n" + "\r\n"; until its last byte arrives the
                    // buffer may hold limit + 1 bytes (all but that byte), so only more than that is too
                    // much — the same answer however the body is split.
                    guard buffer.count <= limits.maxPartHeaderBytes + 1 else {
                        throw .partHeadersTooLarge(limit: limits.maxPartHeaderBytes)
                    }
                    return
                }
                guard at + 2 <= limits.maxPartHeaderBytes else { throw .partHeadersTooLarge(limit: limits.maxPartHeaderBytes) }
                let head = try MultipartPartHead(parsing: Array(buffer[0..<(at + 2)]))
                buffer.removeFirst(at + end.count)
                events.append(.partBegin(head))
                state = .body
            case .body:
                if let at = find(delimiter, in: buffer) {
                    if at > 0 { events.append(.partData(Array(buffer[0..<at]))) }
                    events.append(.partEnd)
                    buffer.removeFirst(at + delimiter.count)
                    state = .afterDelimiter
                } else {
                    let keep = min(buffer.count, delimiter.count - 1)
                    if buffer.count > keep {
                        events.append(.partData(Array(buffer[0..<(buffer.count - keep)])))
                        buffer.removeFirst(buffer.count - keep)
                    }
                    return
                }
            case .epilogue:
                buffer.removeAll()  // RFC 2046: an epilogue is ignored
                return
            }
        }
    }

    /// The first occurrence of `needle` in `haystack`: memchr(3) to the next candidate first byte
    /// (vectorised in libc), then memcmp(3). The parser's hot loop on multi-hundred-megabyte uploads;
    /// the delimiter starts with CR, which is rare in binary data and absent from most text.
    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count, let first = needle.first else { return nil }
        return haystack.withUnsafeBytes { h in
            needle.withUnsafeBytes { n in
                let base = h.baseAddress!
                let last = h.count - n.count        // the last offset where a match can start
                var offset = 0
                while offset <= last {
                    guard let hit = memchr(base + offset, Int32(first), last - offset + 1) else { return nil }
                    let at = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + at, n.baseAddress!, n.count) == 0 { return at }
                    offset = at + 1
                }
                return nil
            }
        }
    }

    /// RFC 2046 §5.1.1 `bchars`: DIGIT / ALPHA / "'()+_,-./:=?" and space.
    static func isBoundaryCharacter(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return Array("'()+_,-./:=? ".utf8).contains(c)
        }
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension String {
    var trimmingSpaces: String { Substring(self).trimmingSpaces }
}
