/// One field line: a name as received and its value with surrounding whitespace removed.
public struct HTTPField: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Header or trailer fields in the order received. Names compare case-insensitively (RFC 9110 §5.1).
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [HTTPField] = []

    public init() {}
    public init(_ fields: [HTTPField]) { self.fields = fields }
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { HTTPField(name: $0.0, value: $0.1) }
    }

    public var count: Int { fields.count }
    public func makeIterator() -> IndexingIterator<[HTTPField]> { fields.makeIterator() }

    /// The first value of `name`, or nil.
    public subscript(name: String) -> String? {
        get { fields.first { $0.name.equalsIgnoringASCIICase(name) }?.value }
        set {
            remove(name)
            if let newValue { fields.append(HTTPField(name: name, value: newValue)) }
        }
    }

    /// Every value of `name`, one per field line.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.equalsIgnoringASCIICase(name) }.map(\.value)
    }

    /// The comma-separated list elements of every `name` line, trimmed, empty elements dropped
    /// (RFC 9110 §5.6.1: a recipient ignores a reasonable number of empty list elements).
    public func listValues(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingOWS() }
            .filter { !$0.isEmpty }
    }

    /// True when the list header `name` contains `token`, compared case-insensitively.
    public func contains(_ name: String, token: String) -> Bool {
        listValues(name).contains { $0.equalsIgnoringASCIICase(token) }
    }

    public mutating func append(name: String, value: String) {
        fields.append(HTTPField(name: name, value: value))
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { $0.name.equalsIgnoringASCIICase(name) }
    }
}

extension StringProtocol {
    /// ASCII case-insensitive equality, as field names and tokens need; no Unicode folding.
    func equalsIgnoringASCIICase(_ other: some StringProtocol) -> Bool {
        let lhs = utf8, rhs = other.utf8
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).allSatisfy { a, b in
            a == b || (a | 0x20 == b | 0x20 && (a | 0x20) >= UInt8(ascii: "a") && (a | 0x20) <= UInt8(ascii: "z"))
        }
    }

    /// Removes optional whitespace (SP / HTAB, RFC 9110 §5.6.3) at both ends.
    func trimmingOWS() -> String {
        let bytes = Array(utf8)
        var start = 0, end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
