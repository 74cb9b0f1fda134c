/// A strict, pull-style reader of the JSON in a safetensors header (RFC 8259).
///
/// The header parser drives it by the schema it expects, so nothing is built that the
/// schema would reject: an unexpected value is reported where it starts, nesting is bounded
/// by the schema (object → entry object → array), and memory grows only with accepted data.
/// Unlike `JSONSerialization`, duplicate keys are visible to the caller, which rejects them.
///
/// It assumes the bytes were already checked to be UTF-8, so string contents are copied
/// through; escapes, including `\u` surrogate pairs, are validated here.
struct SafetensorsJSONReader {
    /// What kind of value starts at the current position.
    enum ValueKind: Equatable, CustomStringConvertible {
        case object, array, string, number, literal

        var description: String {
            switch self {
            case .object: "an object"
            case .array: "an array"
            case .string: "a string"
            case .number: "a number"
            case .literal: "true, false or null"
            }
        }
    }

    /// A number token: its JSON text, and its value when it is a non-negative integer
    /// literal (no sign, fraction or exponent) that fits in `Int`.
    struct Number {
        let text: String
        let nonNegativeInteger: Int?
    }

    private let bytes: UnsafeRawBufferPointer
    private(set) var index = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    // MARK: Structure

    /// Skips whitespace and classifies the value that starts next, without consuming it.
    mutating func kindOfNextValue() throws(SafetensorsError) -> ValueKind {
        skipWhitespace()
        guard let byte = peek() else { throw syntaxError("expected a value, found the end of the header") }
        switch byte {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"): return .literal
        default: throw syntaxError("expected a value, found \(describe(byte))")
        }
    }

    mutating func beginObject() throws(SafetensorsError) {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
    }

    /// The next member's key, with its `:` consumed, or nil at the closing `}`.
    /// `first` is true right after `beginObject()`; later calls consume the `,` between members.
    mutating func nextKey(first: Bool) throws(SafetensorsError) -> String? {
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return nil
        }
        if !first {
            try expect(UInt8(ascii: ","), "expected ',' or '}' after an object member")
            skipWhitespace()
        }
        guard peek() == UInt8(ascii: "\"") else { throw syntaxError("expected a string key") }
        let key = try readString()
        skipWhitespace()
        try expect(UInt8(ascii: ":"), "expected ':' after an object key")
        return key
    }

    mutating func beginArray() throws(SafetensorsError) {
        skipWhitespace()
        try expect(UInt8(ascii: "["))
    }

    /// Whether another element follows (its leading `,` consumed); false at the closing `]`.
    mutating func nextElement(first: Bool) throws(SafetensorsError) -> Bool {
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return false
        }
        if !first {
            try expect(UInt8(ascii: ","), "expected ',' or ']' after an array element")
        }
        return true
    }

    /// After the top-level object: the format allows only spaces (0x20) to pad the header
    /// to its declared length (the reference writer pads to a multiple of 8 with b' ').
    func expectOnlyPadding() throws(SafetensorsError) {
        var i = index
        while i < bytes.count {
            guard bytes[i] == 0x20 else { throw .headerTrailingBytes(offset: i) }
            i += 1
        }
    }

    /// After a whole document: only RFC 8259 whitespace may follow; the offset of the first other byte.
    mutating func firstByteAfterWhitespace() -> Int? {
        skipWhitespace()
        return index < bytes.count ? index : nil
    }

    // MARK: Scalars

    /// Reads `true`, `false` or `null` (nil) at the current position.
    mutating func readLiteral() throws(SafetensorsError) -> Bool? {
        skipWhitespace()
        for (text, value) in [("true", Bool?.some(true)), ("false", .some(false)), ("null", nil)] {
            let word = Array(text.utf8)
            if index + word.count <= bytes.count, bytes[index..<(index + word.count)].elementsEqual(word) {
                index += word.count
                return value
            }
        }
        throw syntaxError("expected true, false or null")
    }

    /// Reads a string at the current position (which must be `"`).
    mutating func readString() throws(SafetensorsError) -> String {
        skipWhitespace()
        try expect(UInt8(ascii: "\""))
        var utf8: [UInt8] = []
        while true {
            guard let byte = peek() else { throw syntaxError("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                try readEscape(into: &utf8)
            case 0x00..<0x20:
                // RFC 8259 §7: control characters must be escaped inside strings.
                throw syntaxError("unescaped control character \(describe(byte)) in a string")
            default:
                utf8.append(byte)
                index += 1
            }
        }
    }

    /// Reads a number token, checking the RFC 8259 §6 grammar:
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func readNumber() throws(SafetensorsError) -> Number {
        skipWhitespace()
        let start = index
        let negative = peek() == UInt8(ascii: "-")
        if negative { index += 1 }

        var value: Int? = 0
        guard let lead = peek(), isDigit(lead) else { throw syntaxError("expected a digit in a number") }
        if lead == UInt8(ascii: "0") {
            index += 1
            if let next = peek(), isDigit(next) { throw syntaxError("leading zero in a number") }
        } else {
            while let digit = peek(), isDigit(digit) {
                value = value.flatMap { accumulate($0, digit) }
                index += 1
            }
        }
        var isInteger = true
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            try readDigits("expected a digit after '.'")
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            try readDigits("expected a digit in an exponent")
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        // "-0" is not an integer to the reference either (serde_json reads it as the float -0.0).
        return Number(text: text, nonNegativeInteger: isInteger && !negative ? value : nil)
    }

    // MARK: Private

    private mutating func readEscape(into utf8: inout [UInt8]) throws(SafetensorsError) {
        guard let byte = peek() else { throw syntaxError("unterminated escape") }
        let simple: UInt8?
        switch byte {
        case UInt8(ascii: "\""): simple = 0x22
        case UInt8(ascii: "\\"): simple = 0x5C
        case UInt8(ascii: "/"): simple = 0x2F
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "u"): simple = nil
        default: throw syntaxError("invalid escape: backslash followed by \(describe(byte))")
        }
        index += 1
        if let simple {
            utf8.append(simple)
            return
        }
        // RFC 8259 §7: characters outside the BMP are escaped as a UTF-16 surrogate pair.
        var scalar = UInt32(try readHex4())
        switch scalar {
        case 0xD800...0xDBFF:
            guard peek() == UInt8(ascii: "\\"), peek(at: index + 1) == UInt8(ascii: "u") else {
                throw syntaxError("high surrogate \\u\(hex(scalar)) not followed by a low surrogate")
            }
            index += 2
            let low = UInt32(try readHex4())
            guard (0xDC00...0xDFFF).contains(low) else {
                throw syntaxError("high surrogate \\u\(hex(scalar)) followed by \\u\(hex(low)), not a low surrogate")
            }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        case 0xDC00...0xDFFF:
            throw syntaxError("low surrogate \\u\(hex(scalar)) without a preceding high surrogate")
        default:
            break
        }
        // Every value left is a valid scalar: surrogates were paired or rejected above.
        UTF8.encode(Unicode.Scalar(scalar)!) { utf8.append($0) }
    }

    private mutating func readHex4() throws(SafetensorsError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = peek() else { throw syntaxError("unterminated \\u escape") }
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: throw syntaxError("expected a hex digit in a \\u escape, found \(describe(byte))")
            }
            value = value << 4 | UInt16(nibble)
            index += 1
        }
        return value
    }

    private mutating func readDigits(_ message: String) throws(SafetensorsError) {
        guard let first = peek(), isDigit(first) else { throw syntaxError(message) }
        while let digit = peek(), isDigit(digit) { index += 1 }
    }

    private func accumulate(_ value: Int, _ digit: UInt8) -> Int? {
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
        return o1 || o2 ? nil : sum
    }

    private mutating func skipWhitespace() {
        // RFC 8259 §2: insignificant whitespace is space, tab, line feed, carriage return.
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            index += 1
        }
    }

    private mutating func expect(_ byte: UInt8, _ message: String? = nil) throws(SafetensorsError) {
        guard peek() == byte else {
            let found = peek().map(describe) ?? "the end of the header"
            throw syntaxError(message ?? "expected '\(Character(Unicode.Scalar(byte)))', found \(found)")
        }
        index += 1
    }

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private func peek(at position: Int) -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private func syntaxError(_ reason: String) -> SafetensorsError {
        .headerNotJSON(offset: index, reason: reason)
    }

    private func describe(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x" + hex(UInt32(byte), width: 2)
    }

    private func hex(_ value: UInt32, width: Int = 4) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
