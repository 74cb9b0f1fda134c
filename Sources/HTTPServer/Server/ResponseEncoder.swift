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
        var text = "HTTP/1.1 \(response.status.code) \(response.status.reasonPhrase)\r\n"
        text += "Date: \(HTTPDate.now())\r\n"
        for field in response.headers.fields
        where !serverOwnedFields.contains(where: { $0.equalsIgnoringASCIICase(field.name) })
            && !field.name.equalsIgnoringASCIICase("X-Request-Id") {
            text += "\(field.name): \(sanitized(field.value))\r\n"
        }
        switch framing {
        case .none, .closeDelimited: break
        case .contentLength(let n): text += "Content-Length: \(n)\r\n"
        case .chunked: text += "Transfer-Encoding: chunked\r\n"
        }
        if close {
            text += "Connection: close\r\n"
        } else if keepAliveHTTP10 {
            text += "Connection: keep-alive\r\n"
        }
        text += "X-Request-Id: \(requestID)\r\n\r\n"
        return Array(text.utf8)
    }

    /// A handler's field value never splits the response: CR, LF and NUL become spaces.
    static func sanitized(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == ASCII.cr || $0 == ASCII.lf || $0 == 0 }) else { return value }
        return String(value.map { $0 == "\r" || $0 == "\n" || $0 == "\u{0}" || $0 == "\r\n" ? " " : $0 })
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
