extension HTTPRequest {
    /// The value of cookie `name` from the `Cookie` field lines (RFC 6265 §4.2.1: `name=value` pairs
    /// joined by `; `), or nil when it is absent, sent twice with different values (a cookie tossed
    /// in by another site of the same domain is not guessed between), or not cookie-octets (§4.1.1).
    public func cookie(_ name: String) -> String? {
        var found: String?
        for line in headers.values("Cookie") {
            for pair in line.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " || $0 == "\t" }
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                let key = trimmed[trimmed.startIndex..<equals].trimmingSuffix { $0 == " " || $0 == "\t" }
                guard key == name[...] else { continue }
                var value = trimmed[trimmed.index(after: equals)...].trimmingSuffix { $0 == " " || $0 == "\t" }
                if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
                guard value.utf8.allSatisfy(SetCookie.isCookieOctet) else { return nil }
                if let found, found != String(value) { return nil }
                found = String(value)
            }
        }
        return found
    }
}

extension Substring {
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[startIndex..<end]
    }
}
