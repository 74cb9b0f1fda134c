import Foundation

/// A JSON document as a value, for configs whose unknown fields must survive a round trip.
/// Numbers that are integers are written back as integers (`"r": 16`, not `16.0`).
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else if let o = try? c.decode([String: JSONValue].self) { self = .object(o) }
        else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(d):
            if d.rounded() == d, abs(d) < 9.007_199_254_740_992e15 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    public var stringValue: String? { if case let .string(s) = self { s } else { nil } }
    public var boolValue: Bool? { if case let .bool(b) = self { b } else { nil } }
    public var doubleValue: Double? { if case let .number(d) = self { d } else { nil } }
    public var objectValue: [String: JSONValue]? { if case let .object(o) = self { o } else { nil } }
    public var arrayValue: [JSONValue]? { if case let .array(a) = self { a } else { nil } }
    public var isNull: Bool { self == .null }

    /// An exact integer, or nil for fractions, non-numbers and values beyond Int.
    public var intValue: Int? {
        guard case let .number(d) = self, d.rounded() == d, let i = Int(exactly: d) else { return nil }
        return i
    }

    /// The path of the first NaN or ±Inf in the value (`a.b[2]`), or nil when every number is finite.
    public func firstNonFiniteNumber(path: String = "") -> String? {
        switch self {
        case let .number(d): return d.isFinite ? nil : (path.isEmpty ? "(document)" : path)
        case let .array(a):
            for (i, v) in a.enumerated() { if let p = v.firstNonFiniteNumber(path: path + "[\(i)]") { return p } }
            return nil
        case let .object(o):
            for k in o.keys.sorted() {
                if let p = o[k]?.firstNonFiniteNumber(path: path.isEmpty ? k : path + "." + k) { return p }
            }
            return nil
        case .null, .bool, .string:
            return nil
        }
    }

    /// Pretty, key-sorted JSON text (stable output, readable diffs).
    public func encodedPretty() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self)
    }
}
