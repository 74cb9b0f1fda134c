// Request line, header fields and the framing decision (RFC 9112 §3, §5, §6; RFC 9110 §7.2, §8.6).

extension HTTPRequestParser {
    enum HeaderLineResult {
        case needMore
        case field
        case complete(HTTPParserEvent)
    }

    /// RFC 9112 §3: request-line = method SP request-target SP HTTP-version, single spaces only.
    func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> PartialHead {
        guard let sp1 = line.firstIndex(of: ASCII.sp) else {
            throw .malformedRequestLine("expected method SP request-target SP HTTP-version")
        }
        let method = line[line.startIndex..<sp1]
        // RFC 9110 §9.1: method = token
        guard !method.isEmpty, method.allSatisfy(ASCII.isTokenChar) else { throw .invalidMethod }
        let afterMethod = line[(sp1 + 1)...]
        guard let sp2 = afterMethod.firstIndex(of: ASCII.sp) else {
            throw .malformedRequestLine("expected method SP request-target SP HTTP-version")
        }
        let target = afterMethod[afterMethod.startIndex..<sp2]
        let version = afterMethod[(sp2 + 1)...]
        // RFC 9112 §3: no whitespace is allowed in the request-target, and exactly one SP separates the parts.
        guard !target.isEmpty else { throw .malformedRequestLine("empty request-target or doubled space") }
        guard !version.contains(ASCII.sp) else { throw .malformedRequestLine("whitespace in request-target") }
        let methodValue = HTTPMethod(String(decoding: method, as: UTF8.self))
        try validateTarget(target, method: methodValue)
        return PartialHead(method: methodValue, target: String(decoding: target, as: UTF8.self),
                           version: try parseVersion(version))
    }

    /// RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive.
    func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPVersion {
        let b = Array(bytes)
        guard b.count == 8, b[0..<5].elementsEqual("HTTP/".utf8), ASCII.isDigit(b[5]),
              b[6] == UInt8(ascii: "."), ASCII.isDigit(b[7]) else {
            throw .invalidVersion
        }
        let major = Int(b[5] - UInt8(ascii: "0")), minor = Int(b[7] - UInt8(ascii: "0"))
        // RFC 9110 §6.2: a higher minor version of a major version we implement is processed as the highest
        // minor version we implement; other major versions are not HTTP/1 and get 505.
        guard major == 1 else { throw .unsupportedVersion("HTTP/\(major).\(minor)") }
        return HTTPVersion(major: 1, minor: min(minor, 1))
    }

    /// RFC 9112 §3.2: origin-form for every method, absolute-form (http/https), asterisk-form only for
    /// OPTIONS, authority-form only for CONNECT. Characters are those of RFC 3986; "%" needs two hex digits.
    /// A fragment ("#") is never sent in a request-target.
    func validateTarget(_ target: ArraySlice<UInt8>, method: HTTPMethod) throws(HTTPParseError) {
        var i = target.startIndex
        while i < target.endIndex {
            let b = target[i]
            guard ASCII.isTargetChar(b) else {
                throw .invalidTarget(b < 0x21 || b >= 0x7F
                    ? "byte 0x\(String(b, radix: 16)) is not allowed"
                    : "character \"\(Character(Unicode.Scalar(b)))\" must be percent-encoded")
            }
            if b == ASCII.percent {
                guard i + 2 < target.endIndex, ASCII.hexValue(target[i + 1]) != nil,
                      ASCII.hexValue(target[i + 2]) != nil else {
                    throw .invalidTarget("\"%\" is not followed by two hex digits")
                }
                i += 2
            }
            i += 1
        }
        let text = String(decoding: target, as: UTF8.self)
        if text.hasPrefix("/") { return }  // origin-form (§3.2.1)
        if text == "*" {  // asterisk-form (§3.2.4)
            guard method == .options else { throw .invalidTarget("\"*\" is only for OPTIONS") }
            return
        }
        if method == .connect { return }  // authority-form (§3.2.3); host:port checked by the handler
        let lower = text.lowercased()
        for scheme in ["http://", "https://"] where lower.hasPrefix(scheme) {  // absolute-form (§3.2.2)
            guard text.count > scheme.count else { throw .invalidTarget("absolute-form without a host") }
            return
        }
        throw .invalidTarget("must start with \"/\"")
    }

    mutating func parseHeaderLine(_ head: inout PartialHead) throws(HTTPParseError) -> HeaderLineResult {
        let fieldLimit = limits.maxHeaderFieldBytes, sectionLimit = limits.maxHeaderSectionBytes
        // Whichever limit a growing line crosses first is the one reported, so the error does not depend
        // on how the bytes were split (found by the fuzzer: Fuzz/findings, see the regression test).
        let sectionRoom = max(0, sectionLimit - head.sectionBytes - 2)
        let (maxLength, tooLong): (Int, HTTPParseError) = sectionRoom < fieldLimit
            ? (sectionRoom, .headerSectionTooLarge(limit: sectionLimit))
            : (fieldLimit, .headerFieldTooLarge(limit: fieldLimit))
        guard let line = try nextLine(maxLength: maxLength, tooLong: tooLong) else { return .needMore }
        if line.isEmpty {
            let requestHead = try makeHead(head)
            switch requestHead.framing {
            case .none, .contentLength(0): state = .endPending
            case .contentLength(let n): state = .fixedBody(remaining: n)
            case .chunked: state = .chunkHeader(bodyBytes: 0)
            }
            return .complete(.head(requestHead))
        }
        // RFC 9112 §2.1: the header section counts every field line and its CRLF.
        head.sectionBytes += line.count + 2
        guard head.sectionBytes <= sectionLimit else { throw .headerSectionTooLarge(limit: sectionLimit) }
        guard head.fields.count < limits.maxHeaderFieldCount else {
            throw .tooManyHeaderFields(limit: limits.maxHeaderFieldCount)
        }
        head.fields.append(try parseField(buffer[line]))
        return .field
    }

    /// RFC 9112 §5: field-line = field-name ":" OWS field-value OWS.
    func parseField(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPField {
        // RFC 9112 §5.2: obs-fold (a line starting with SP or HTAB) is rejected with 400 outside message/http.
        // RFC 9112 §2.2: whitespace before the first field line is rejected the same way.
        guard let first = line.first, first != ASCII.sp, first != ASCII.htab else { throw .obsoleteLineFolding }
        guard let colon = line.firstIndex(of: ASCII.colon) else {
            throw .invalidFieldName(String(fieldBytes: line.prefix(64)))
        }
        let name = line[line.startIndex..<colon]
        // RFC 9112 §5.1: no whitespace between field name and colon; a server MUST reject it with 400.
        if let last = name.last, last == ASCII.sp || last == ASCII.htab {
            throw .whitespaceBeforeColon(String(fieldBytes: name).trimmingOWS())
        }
        // RFC 9110 §5.1: field-name = token
        guard !name.isEmpty, name.allSatisfy(ASCII.isTokenChar) else {
            throw .invalidFieldName(String(fieldBytes: name.prefix(64)))
        }
        var value = line[(colon + 1)...]
        // RFC 9110 §5.5: field values hold no CTL but HTAB: no NUL, CR, LF or DEL.
        guard value.allSatisfy(ASCII.isFieldValueByte) else {
            throw .invalidFieldValue(name: String(decoding: name, as: UTF8.self))
        }
        while let b = value.first, b == ASCII.sp || b == ASCII.htab { value.removeFirst() }
        while let b = value.last, b == ASCII.sp || b == ASCII.htab { value.removeLast() }
        return HTTPField(name: String(decoding: name, as: UTF8.self), value: String(fieldBytes: value))
    }

    /// Checks the semantics that decide how the message is framed and routed.
    func makeHead(_ partial: PartialHead) throws(HTTPParseError) -> HTTPRequestHead {
        let headers = HTTPHeaders(partial.fields)
        let version = partial.version

        // RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host, and to any request
        // with more than one Host field line or an invalid Host value.
        let hosts = headers.values("Host")
        if hosts.count > 1 { throw .multipleHosts }
        if hosts.isEmpty, version == .http1_1 { throw .missingHost }
        if let host = hosts.first { try validateHost(host) }

        let framing = try framing(of: headers, version: version)
        if case .contentLength(let n) = framing, n > limits.maxBodyBytes {
            throw .bodyTooLarge(limit: limits.maxBodyBytes)
        }

        // RFC 9110 §10.1.1: 100-continue is the only expectation defined; others get 417.
        // An HTTP/1.0 request's 100-continue is ignored.
        var expectsContinue = false
        let expectations = headers.listValues("Expect")
        for expectation in expectations {
            guard expectation.equalsIgnoringASCIICase("100-continue") else {
                throw .unsupportedExpectation(expectation)
            }
            expectsContinue = version == .http1_1
        }

        // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
        let keepAlive = headers.contains("Connection", token: "close")
            ? false
            : (version == .http1_1 || headers.contains("Connection", token: "keep-alive"))

        var head = HTTPRequestHead(method: partial.method, target: partial.target, version: version,
                                   headers: headers, framing: framing, keepAlive: keepAlive)
        head.expectsContinue = expectsContinue && head.hasBody
        return head
    }

    /// RFC 9112 §6.3 decides the body length.
    func framing(of headers: HTTPHeaders, version: HTTPVersion) throws(HTTPParseError) -> HTTPBodyFraming {
        let transferEncodings = headers.values("Transfer-Encoding")
        let contentLengths = headers.values("Content-Length")

        if !transferEncodings.isEmpty {
            // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
            if version == .http1_0 { throw .transferEncodingInHTTP10 }
            // RFC 9112 §6.3 rule 3: Transfer-Encoding with Content-Length may be a smuggling attempt;
            // it is rejected and the connection closed.
            if !contentLengths.isEmpty { throw .contentLengthWithTransferEncoding }
            let codings = headers.listValues("Transfer-Encoding").map { $0.lowercased() }
            // RFC 9112 §6.3 rule 4: if chunked is not the final coding of a request, 400 and close.
            guard codings.last == "chunked" else { throw .chunkedNotFinal }
            // RFC 9112 §7: a sender MUST NOT apply chunked more than once.
            guard codings.filter({ $0 == "chunked" }).count == 1 else { throw .chunkedAppliedTwice }
            // RFC 9112 §6.1: a transfer coding the server does not understand → 501.
            if let other = codings.first(where: { $0 != "chunked" }) { throw .unsupportedTransferCoding(other) }
            return .chunked
        }

        guard !contentLengths.isEmpty else { return .none }
        // RFC 9110 §8.6: Content-Length = 1*DIGIT. Several lines, or a list, are accepted only when every
        // value is the same; anything else is unrecoverable framing.
        var length: Int?
        for line in contentLengths {
            for element in line.split(separator: ",", omittingEmptySubsequences: false) {
                let text = element.trimmingOWS()
                let value = try parseContentLength(text)
                if let length, length != value { throw .conflictingContentLength }
                length = value
            }
        }
        return .contentLength(length ?? 0)
    }

    /// Digits only: no sign, no "0x", no "_", no whitespace, no empty value; overflow is an error.
    func parseContentLength(_ text: String) throws(HTTPParseError) -> Int {
        guard !text.isEmpty else { throw .invalidContentLength(text) }
        var value = 0
        for b in text.utf8 {
            guard ASCII.isDigit(b) else { throw .invalidContentLength(text) }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw .invalidContentLength(text) }
            value = sum
        }
        return value
    }

    /// RFC 9110 §7.2: Host = uri-host [ ":" port ]. RFC 9110 §4.2.1: an "http" URI has a non-empty host.
    func validateHost(_ host: String) throws(HTTPParseError) {
        let b = Array(host.utf8)
        guard !b.isEmpty else { throw .invalidHost(host) }
        var i = 0
        if b[0] == UInt8(ascii: "[") {
            // IP-literal (RFC 3986 §3.2.2): hex digits, ":", "." and IPvFuture's unreserved / sub-delims.
            guard let close = b.firstIndex(of: UInt8(ascii: "]")), close > 1 else { throw .invalidHost(host) }
            guard b[1..<close].allSatisfy({ ASCII.isUnreserved($0) || ASCII.isSubDelim($0) || $0 == ASCII.colon })
            else { throw .invalidHost(host) }
            i = close + 1
        } else {
            while i < b.count, b[i] != ASCII.colon {
                let c = b[i]
                if c == ASCII.percent {
                    guard i + 2 < b.count, ASCII.hexValue(b[i + 1]) != nil, ASCII.hexValue(b[i + 2]) != nil
                    else { throw .invalidHost(host) }
                    i += 3
                    continue
                }
                guard ASCII.isUnreserved(c) || ASCII.isSubDelim(c) else { throw .invalidHost(host) }
                i += 1
            }
            guard i > 0 else { throw .invalidHost(host) }
        }
        guard i < b.count else { return }
        guard b[i] == ASCII.colon, b[(i + 1)...].allSatisfy(ASCII.isDigit) else { throw .invalidHost(host) }
    }
}
