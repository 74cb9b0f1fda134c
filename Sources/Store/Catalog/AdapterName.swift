/// A human name for an adapter (`my-adapter`, `llama-3.1-8b.support.v2`), like an image tag.
///
/// 1–`maxLength` characters of `[A-Za-z0-9._-]`, not starting with `.` or `-`, and not 64
/// lowercase hex characters (that would read as a digest). So a name can never climb out of a
/// directory, hide a file, look like a command-line flag, or shadow a digest.
public struct AdapterName: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The longest name accepted, in characters (all ASCII, so also bytes).
    public static let maxLength = 128

    public let rawValue: String

    public init(validating text: String) throws(AdapterNameError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= Self.maxLength else { throw .tooLong(text, length: bytes.count) }
        if let offset = bytes.firstIndex(where: { !Self.isAllowed($0) }) {
            throw .invalidCharacter(text, offset: offset)
        }
        guard bytes[0] != UInt8(ascii: ".") && bytes[0] != UInt8(ascii: "-") else { throw .invalidFirstCharacter(text) }
        guard SHA256Digest(text) == nil else { throw .looksLikeDigest(text) }
        rawValue = text
    }

    public var description: String { rawValue }

    public static func < (lhs: AdapterName, rhs: AdapterName) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { try self.init(validating: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// `[A-Za-z0-9._-]`.
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}

/// Why a string is not a valid adapter name.
public enum AdapterNameError: Error, Equatable, CustomStringConvertible {
    case empty
    case tooLong(String, length: Int)
    /// The byte at `offset` (in UTF-8) is outside `[A-Za-z0-9._-]`.
    case invalidCharacter(String, offset: Int)
    /// Starts with `.` or `-`.
    case invalidFirstCharacter(String)
    /// 64 lowercase hex characters: reserved for digests.
    case looksLikeDigest(String)

    public var description: String {
        switch self {
        case .empty:
            "an adapter name cannot be empty"
        case .tooLong(let text, let length):
            "adapter name \(quoted(text)) has \(length) characters; at most \(AdapterName.maxLength) are allowed"
        case .invalidCharacter(let text, let offset):
            "adapter name \(quoted(text)): byte \(offset) is not one of A-Z a-z 0-9 . _ -"
        case .invalidFirstCharacter(let text):
            "adapter name \(quoted(text)) cannot start with '.' or '-'"
        case .looksLikeDigest(let text):
            "adapter name \(quoted(text)) is 64 hex characters, which is reserved for digests"
        }
    }
}
