/// A SHA-256 digest as 64 lowercase hexadecimal characters.
///
/// Digests name blob files and appear in URLs, so this type is the store's guard against path
/// traversal: it accepts exactly 64 bytes from `0-9a-f` and nothing else — no uppercase, no
/// separators, no Unicode look-alikes (fullwidth digits pass `Character.isHexDigit`, which is why
/// the check is on UTF-8 bytes).
public struct SHA256Digest: Hashable, Comparable, Sendable, Codable, LosslessStringConvertible {
    /// Characters in a digest's hexadecimal form.
    public static let hexLength = 64

    /// The 64 lowercase hexadecimal characters.
    public let hex: String

    /// Validates `hex`; throws naming the first thing wrong with it.
    public init(validating hex: String) throws(SHA256DigestError) {
        let bytes = Array(hex.utf8)
        guard bytes.count == Self.hexLength else { throw .wrongLength(hex, count: bytes.count) }
        if let index = bytes.firstIndex(where: { !Self.isLowercaseHex($0) }) {
            throw .invalidCharacter(hex, offset: index)
        }
        self.hex = hex
    }

    /// The digest for `hex`, or nil when it is not 64 lowercase hexadecimal characters.
    public init?(_ description: String) {
        guard let digest = try? SHA256Digest(validating: description) else { return nil }
        self = digest
    }

    /// The digest of 32 raw bytes, as produced by the hash function.
    init(rawBytes: some Collection<UInt8>) {
        precondition(rawBytes.count == Self.hexLength / 2, "a SHA-256 digest has 32 bytes")
        hex = Hex.lowercase(rawBytes)
    }

    public var description: String { hex }

    /// The 32 raw bytes.
    public var rawBytes: [UInt8] {
        let bytes = Array(hex.utf8)
        return stride(from: 0, to: bytes.count, by: 2).map { Self.nibble(bytes[$0]) << 4 | Self.nibble(bytes[$0 + 1]) }
    }

    public static func < (lhs: SHA256Digest, rhs: SHA256Digest) -> Bool { lhs.hex < rhs.hex }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { try self.init(validating: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    static func isLowercaseHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    private static func nibble(_ byte: UInt8) -> UInt8 {
        byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : byte - UInt8(ascii: "a") + 10
    }
}

/// Why a string is not a SHA-256 digest.
public enum SHA256DigestError: Error, Equatable, CustomStringConvertible {
    /// Not 64 bytes long.
    case wrongLength(String, count: Int)
    /// A byte at `offset` (in UTF-8) outside `0-9a-f`.
    case invalidCharacter(String, offset: Int)

    public var description: String {
        switch self {
        case .wrongLength(let text, let count):
            "\(quoted(text)) is not a SHA-256 digest: it has \(count) bytes, a digest has \(SHA256Digest.hexLength) lowercase hex characters"
        case .invalidCharacter(let text, let offset):
            "\(quoted(text)) is not a SHA-256 digest: byte \(offset) is not one of 0-9a-f"
        }
    }
}

/// A string quoted for an error message, with control characters escaped and long input cut.
func quoted(_ text: String, limit: Int = 80) -> String {
    let shown = text.count > limit ? String(text.prefix(limit)) + "…" : text
    return "\"" + shown.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value != 0x7f
        ? String($0) : $0.escaped(asASCII: true) }.joined() + "\""
}
