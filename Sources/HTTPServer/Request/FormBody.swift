/// An `application/x-www-form-urlencoded` body (WHATWG URL §5.1, what an HTML form posts) as a value:
/// bytes in, the fields in order or a `FormBodyError` out. `+` is a space and `%XX` a byte; a name
/// or value whose bytes are not UTF-8 after decoding is refused, not repaired.
public struct FormBody: Sendable, Equatable {
    /// The most fields a body may hold (a form of the service has a handful; a body of 10⁵ `&`s is
    /// an attack, not a form).
    public static let maxFields = 256

    public private(set) var fields: [(name: String, value: String)]

    public static func == (lhs: FormBody, rhs: FormBody) -> Bool {
        lhs.fields.map(\.name) == rhs.fields.map(\.name) && lhs.fields.map(\.value) == rhs.fields.map(\.value)
    }

    public init(parsing bytes: some Collection<UInt8>, maxFields: Int = FormBody.maxFields) throws(FormBodyError) {
        fields = []
        for (index, pair) in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).enumerated() {
            guard index < maxFields else { throw .tooManyFields(limit: maxFields) }
            let parts = pair.split(separator: ASCII.equals, maxSplits: 1, omittingEmptySubsequences: false)
            let rawName = String(decoding: parts[0], as: UTF8.self)
            guard parts[0].allSatisfy({ $0 >= 0x21 && $0 < 0x7F }),
                  let name = PercentDecoding.decode(rawName, plusAsSpace: true) else {
                throw .malformed(field: index)
            }
            let rawValue = parts.count > 1 ? Array(parts[1]) : []
            guard rawValue.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }),
                  let value = PercentDecoding.decode(String(decoding: rawValue, as: UTF8.self), plusAsSpace: true) else {
                throw .malformed(field: index)
            }
            fields.append((name, value))
        }
    }

    /// The first value of `name`, or nil.
    public func value(_ name: String) -> String? { fields.first { $0.name == name }?.value }

    /// Every value of `name`, in order (a `<select multiple>` or checkboxes).
    public func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }
}

public enum FormBodyError: Error, Equatable, CustomStringConvertible {
    case tooManyFields(limit: Int)
    /// Field `field` (from 0) has a byte outside printable ASCII, a bad `%` escape, or decodes to
    /// bytes that are not UTF-8.
    case malformed(field: Int)

    public var description: String {
        switch self {
        case .tooManyFields(let limit): "the form has more than \(limit) fields"
        case .malformed(let field): "form field \(field + 1) is not URL-encoded UTF-8"
        }
    }
}
