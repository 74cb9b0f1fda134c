// The chunked transfer coding (RFC 9112 §7.1).

extension HTTPRequestParser {
    /// Parses `chunk-size [ chunk-ext ] CRLF`; returns false when the line is not complete yet.
    mutating func parseChunkHeader(bodyBytes: Int) throws(HTTPParseError) -> Bool {
        let maxDigits = limits.maxChunkSizeDigits, maxExtension = limits.maxChunkExtensionBytes
        // Reject an over-long size before its line ends.
        let digits = buffer[index...].prefix(maxDigits + 1).prefix { ASCII.hexValue($0) != nil }.count
        if digits > maxDigits { throw .chunkSizeTooLong(limit: maxDigits) }
        // The extension starts after the digits, so the line may be that much longer than the extension limit.
        guard let line = try nextLine(maxLength: digits + maxExtension, tooLong: .chunkExtensionTooLong(limit: maxExtension))
        else { return false }

        // chunk-size = 1*HEXDIG: no sign, no "0x", no leading whitespace.
        let bytes = buffer[line]
        var size = 0
        var i = bytes.startIndex
        while i < bytes.endIndex, let digit = ASCII.hexValue(bytes[i]) {
            guard i - bytes.startIndex < maxDigits else { throw .chunkSizeTooLong(limit: maxDigits) }
            let (shifted, o1) = size.multipliedReportingOverflow(by: 16)
            let (sum, o2) = shifted.addingReportingOverflow(digit)
            guard !o1, !o2 else { throw .invalidChunkSize }
            size = sum
            i += 1
        }
        guard i > bytes.startIndex else { throw .invalidChunkSize }

        let ext = bytes[i...]
        guard ext.count <= maxExtension else { throw .chunkExtensionTooLong(limit: maxExtension) }
        if !ext.isEmpty, !Self.isValidChunkExtension(ext) {
            // Whitespace or anything else after the digits that is not an extension is a bad size.
            throw ext.first == ASCII.semicolon || ext.contains(ASCII.semicolon) ? .invalidChunkExtension : .invalidChunkSize
        }

        if size == 0 {
            state = .trailers([:], sectionBytes: 0)
            return true
        }
        // The body limit is enforced as each chunk is announced, before its data is read.
        let (total, overflow) = bodyBytes.addingReportingOverflow(size)
        guard !overflow, total <= limits.maxBodyBytes else { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
        state = .chunkData(remaining: size, bodyBytes: total)
        return true
    }

    /// RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
    /// chunk-ext-name = token, chunk-ext-val = token / quoted-string.
    static func isValidChunkExtension(_ ext: ArraySlice<UInt8>) -> Bool {
        let b = Array(ext)
        var i = 0
        func skipBWS() { while i < b.count, b[i] == ASCII.sp || b[i] == ASCII.htab { i += 1 } }
        func token() -> Bool {
            let start = i
            while i < b.count, ASCII.isTokenChar(b[i]) { i += 1 }
            return i > start
        }
        while i < b.count {
            skipBWS()
            guard i < b.count, b[i] == ASCII.semicolon else { return false }
            i += 1
            skipBWS()
            guard token() else { return false }
            skipBWS()
            guard i < b.count, b[i] == ASCII.equals else { continue }
            i += 1
            skipBWS()
            if i < b.count, b[i] == ASCII.quote {
                // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4)
                i += 1
                var closed = false
                while i < b.count {
                    let c = b[i]
                    if c == ASCII.quote { closed = true; i += 1; break }
                    if c == ASCII.backslash {
                        guard i + 1 < b.count, ASCII.isFieldValueByte(b[i + 1]) else { return false }
                        i += 2
                        continue
                    }
                    guard ASCII.isFieldValueByte(c) else { return false }
                    i += 1
                }
                guard closed else { return false }
            } else {
                guard token() else { return false }
            }
        }
        return true
    }

    /// Parses one trailer line, or the empty line that ends the message (RFC 9112 §7.1.2).
    mutating func parseTrailerLine(_ trailers: inout HTTPHeaders,
                                   sectionBytes: Int) throws(HTTPParseError) -> HTTPParserEvent? {
        let limit = limits.maxTrailerSectionBytes
        while true {
            guard let line = try nextLine(maxLength: max(0, limit - sectionBytes - 2),
                                          tooLong: .trailerSectionTooLarge(limit: limit)) else {
                state = .trailers(trailers, sectionBytes: sectionBytes)
                return nil
            }
            if line.isEmpty {
                state = .requestLine(leadingBytes: 0)
                return .end(trailers: trailers)
            }
            let newBytes = sectionBytes + line.count + 2
            guard newBytes <= limit else { throw .trailerSectionTooLarge(limit: limit) }
            guard trailers.count < limits.maxTrailerFieldCount else {
                throw .tooManyTrailerFields(limit: limits.maxTrailerFieldCount)
            }
            let field = try parseField(buffer[line])
            trailers.append(name: field.name, value: field.value)
            state = .trailers(trailers, sectionBytes: newBytes)
            return try parseTrailerLine(&trailers, sectionBytes: newBytes)
        }
    }
}
