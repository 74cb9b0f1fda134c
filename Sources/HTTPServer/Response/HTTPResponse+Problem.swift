/// Problem details (RFC 9457) as `application/problem+json`.
extension HTTPResponse {
    /// The prefix of every problem `type`; a relative URI reference (RFC 9457 §3.1.1) so the service
    /// can document each type at that path.
    public static let problemTypePrefix = "/problems/"

    /// A problem response for `error`, carrying `requestID` both in the body and in X-Request-Id.
    public static func problem(_ error: HTTPError, requestID: String?, instance: String? = nil) -> HTTPResponse {
        var members = [
            ("type", problemTypePrefix + error.type),
            ("title", error.status.reasonPhrase),
        ]
        var json = "{" + members.map { "\(JSON.quote($0.0)):\(JSON.quote($0.1))" }.joined(separator: ",")
        json += ",\"status\":\(error.status.code)"
        members = [("detail", error.detail)]
        if let instance { members.append(("instance", instance)) }
        if let requestID { members.append(("requestId", requestID)) }
        for (key, value) in members { json += ",\(JSON.quote(key)):\(JSON.quote(value))" }
        json += "}"
        var headers = error.headers
        headers["Content-Type"] = "application/problem+json"
        if let requestID { headers["X-Request-Id"] = requestID }
        return HTTPResponse(status: error.status, headers: headers, body: .bytes(Array(json.utf8)))
    }
}

enum JSON {
    /// A JSON string literal (RFC 8259 §7).
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20 || s.value == 0x7F || s.value == 0x2028 || s.value == 0x2029:
                let hex = String(s.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
