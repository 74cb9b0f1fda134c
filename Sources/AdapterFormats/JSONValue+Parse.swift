/// Why a JSON document was refused by `JSONValue.parse`.
public enum JSONParseError: Error, Equatable, CustomStringConvertible {
    case notUTF8(offset: Int)
    case syntax(offset: Int, String)
    case duplicateKey(path: String)
    case tooDeep(limit: Int)
    case trailingBytes(offset: Int)

    public var description: String {
        switch self {
        case let .notUTF8(offset): "is not UTF-8 (bad byte at offset \(offset))"
        case let .syntax(offset, reason): "is not valid JSON at offset \(offset): \(reason)"
        case let .duplicateKey(path): "has the key \(path) twice (Python keeps the last, other readers the first: which one is meant?)"
        case let .tooDeep(limit): "nests arrays and objects deeper than \(limit)"
        case let .trailingBytes(offset): "has bytes after the document at offset \(offset)"
        }
    }
}

extension JSONValue {
    /// Deepest nesting of arrays and objects `parse` follows (a PEFT config nests two or three).
    public static let maxDepth = 128

    /// One JSON document (RFC 8259), strictly: UTF-8, nothing but whitespace after it, and no object
    /// with a key twice — Python's `json` (and so PEFT) keeps the last of two equal keys where
    /// Foundation keeps the first, so a config that says two things would mean one thing to PEFT and
    /// another here; it is refused instead. Numbers are read as `Double`; one past its range (`1e400`)
    /// is refused, since it could not be written back.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONParseError) -> JSONValue in
                if let offset = SafetensorsHeader.firstInvalidUTF8Offset(raw) { throw .notUTF8(offset: offset) }
                var reader = SafetensorsJSONReader(raw)
                let value = try readValue(&reader, path: "", depth: 0)
                if let offset = reader.firstByteAfterWhitespace() { throw .trailingBytes(offset: offset) }
                return value
            }
        }
        return try result.get()
    }

    private static func readValue(_ reader: inout SafetensorsJSONReader, path: String, depth: Int) throws(JSONParseError) -> JSONValue {
        switch try step(&reader, { (r: inout SafetensorsJSONReader) throws(SafetensorsError) in try r.kindOfNextValue() }) {
        case .object:
            guard depth < maxDepth else { throw .tooDeep(limit: maxDepth) }
            try step(&reader) { (r: inout SafetensorsJSONReader) throws(SafetensorsError) in try r.beginObject() }
            var object: [String: JSONValue] = [:]
            var first = true
            while let key = try step(&reader, { (r: inout SafetensorsJSONReader) throws(SafetensorsError) in try r.nextKey(first: first) }) {
                first = false
                let keyPath = path.isEmpty ? key.debugDescription : path + "." + key.debugDescription
                let value = try readValue(&reader, path: keyPath, depth: depth + 1)
                guard object.updateValue(value, forKey: key) == nil else { throw .duplicateKey(path: keyPath) }
            }
            return .object(object)
        case .array:
            guard depth < maxDepth else { throw .tooDeep(limit: maxDepth) }
            try step(&reader) { (r: inout SafetensorsJSONReader) throws(SafetensorsError) in try r.beginArray() }
            var array: [JSONValue] = []
            while try step(&reader, { [first = array.isEmpty] (r: inout SafetensorsJSONReader) throws(SafetensorsError) in try r.nextElement(first: first) }) {
                array.append(try readValue(&reader, path: path + "[\(array.count)]", depth: depth + 1))
            }
            return .array(array)
        case .string:
            return .string(try step(&reader) { (r: inout SafetensorsJSONReader) throws(SafetensorsError) in try r.readString() })
        case .number:
            let start = reader.index
            let number = try step(&reader) { (r: inout SafetensorsJSONReader) throws(SafetensorsError) in try r.readNumber() }
            // The grammar was checked; Double(text) rounds to nearest, and is ±Inf past the range —
            // which no JSON writer can write back (the config would be re-encoded as nothing).
            guard let value = Double(number.text), value.isFinite else {
                throw .syntax(offset: start, "the number \(number.text.prefix(40)) is out of the range of a 64-bit float")
            }
            return .number(value)
        case .literal:
            return try step(&reader) { (r: inout SafetensorsJSONReader) throws(SafetensorsError) in try r.readLiteral() }.map { .bool($0) } ?? .null
        }
    }

    /// One reader call, its syntax errors as `JSONParseError`s.
    @discardableResult
    private static func step<T>(_ reader: inout SafetensorsJSONReader,
                                _ body: (inout SafetensorsJSONReader) throws(SafetensorsError) -> T) throws(JSONParseError) -> T {
        do throws(SafetensorsError) {
            return try body(&reader)
        } catch let .headerNotJSON(offset, reason) {
            throw .syntax(offset: offset, reason.replacingOccurrences(of: "the end of the header", with: "the end of the document"))
        } catch {
            throw .syntax(offset: reader.index, error.description)
        }
    }
}
