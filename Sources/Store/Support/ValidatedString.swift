/// A value that is a string checked by `init(validating:)`: encoded as that string, and decoded
/// through the same check, so a catalog row or a JSON body can never hold an unchecked one.
public protocol ValidatedString: Codable, Sendable {
    var rawValue: String { get }
    init(validating text: String) throws
}

extension ValidatedString {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { try self.init(validating: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(error)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
