/// Serializes response heads (RFC 9112 §4, §6) and chunk framing (RFC 9112 §7.1).
enum ResponseEncoder {
    /// How the body of a response is delimited on the wire.
    enum Framing: Equatable {
        case none
        case contentLength(Int)
        case chunked
        /// HTTP/1.0 peers cannot read chunked: the body ends when the connection closes (RFC 9112 §6.3 rule 8).
        case closeDelimited
    }

    /// Fields the server owns; a handler's values for them are dropped.
    static let serverOwnedFields = ["Content-Length", "Transfer-Encoding", "Connection", "Date", "Keep-Alive"]

    static func framing(for response: HTTPResponse, requestVersion: HTTPVersion) -> Framing {
        // RFC 9110 §6.4.1: 1xx, 204 and 304 have no content and, here, no Content-Length.
        guard response.status.allowsContent else { return .none }
        if let length = response.body.knownLength { return .contentLength(length) }
        return requestVersion == .http1_1 ? .chunked : .closeDelimited
    }

    static func head(for response: HTTPResponse, framing: Framing, close: Bool, keepAliveHTTP10: Bool,
                     requestID: String) -> [UInt8] {
        var out: [UInt8] = []
        encodeHead(for: response, framing: framing, close: close, keepAliveHTTP10: keepAliveHTTP10,
                   requestID: requestID, into: &out)
        return out
    }

    /// Appends the response head to `out` as bytes: no `String` is built per field, so a connection
    /// can encode every response into one buffer it keeps.
    static func encodeHead(for response: HTTPResponse, framing: Framing, close: Bool, keepAliveHTTP10: Bool,
                           requestID: String, into out: inout [UInt8]) {
        out.append(contentsOf: statusLinePrefix)
        appendDecimal(response.status.code, to: &out)
        out.append(ASCII.sp)
        out.append(contentsOf: response.status.reasonPhrase.utf8)
        out.append(contentsOf: crlf)
        out.append(contentsOf: datePrefix)
        out.append(contentsOf: HTTPDate.now().utf8)
        out.append(contentsOf: crlf)
        for field in response.headers.fields where !isServerOwned(field.name) {
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: colonSpace)
            appendSanitized(field.value, to: &out)
            out.append(contentsOf: crlf)
        }
        switch framing {
        case .none, .closeDelimited: break
        case .contentLength(let n):
            out.append(contentsOf: contentLengthPrefix)
            appendDecimal(n, to: &out)
            out.append(contentsOf: crlf)
        case .chunked: out.append(contentsOf: chunkedLine)
        }
        if close {
            out.append(contentsOf: closeLine)
        } else if keepAliveHTTP10 {
            out.append(contentsOf: keepAliveLine)
        }
        out.append(contentsOf: requestIDPrefix)
        out.append(contentsOf: requestID.utf8)
        out.append(contentsOf: crlf)
        out.append(contentsOf: crlf)
    }

    private static let statusLinePrefix: [UInt8] = Array("HTTP/1.1 ".utf8)
    private static let datePrefix: [UInt8] = Array("Date: ".utf8)
    private static let colonSpace: [UInt8] = Array(": ".utf8)
    private static let crlf: [UInt8] = [ASCII.cr, ASCII.lf]
    private static let contentLengthPrefix: [UInt8] = Array("Content-Length: ".utf8)
    private static let chunkedLine: [UInt8] = Array("Transfer-Encoding: chunked\r\n".utf8)
    private static let closeLine: [UInt8] = Array("Connection: close\r\n".utf8)
    private static let keepAliveLine: [UInt8] = Array("Connection: keep-alive\r\n".utf8)
    private static let requestIDPrefix: [UInt8] = Array("X-Request-Id: ".utf8)

    /// Fields the server writes itself (the request id too: it is always the exchange's own).
    private static func isServerOwned(_ name: String) -> Bool {
        name.equalsIgnoringASCIICase("X-Request-Id")
            || serverOwnedFields.contains(where: { $0.equalsIgnoringASCIICase(name) })
    }

    /// A non-negative integer in decimal (a status code, a length: never negative here; a negative
    /// value is written with its sign rather than trapped on).
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 0 {
            out.append(contentsOf: String(value).utf8)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// A handler's field value never splits the response: CR, LF and NUL become spaces (a CRLF pair
    /// one space).
    static func appendSanitized(_ value: String, to out: inout [UInt8]) {
        let utf8 = value.utf8
        guard utf8.contains(where: { $0 == ASCII.cr || $0 == ASCII.lf || $0 == 0 }) else {
            out.append(contentsOf: utf8)
            return
        }
        var previousCR = false
        for byte in utf8 {
            if byte == ASCII.lf, previousCR {
                previousCR = false
                continue
            }
            previousCR = byte == ASCII.cr
            out.append(byte == ASCII.cr || byte == ASCII.lf || byte == 0 ? ASCII.sp : byte)
        }
    }

    /// `appendSanitized` as a string.
    static func sanitized(_ value: String) -> String {
        var out: [UInt8] = []
        appendSanitized(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// One chunk: size in hex, CRLF, data, CRLF.
    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        var out = Array(String(bytes.count, radix: 16).utf8)
        out.reserveCapacity(out.count + bytes.count + 4)
        out += [ASCII.cr, ASCII.lf]
        out += bytes
        out += [ASCII.cr, ASCII.lf]
        return out
    }

    /// The last chunk and an empty trailer section.
    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
