/// A job's identifier: 128 random bits as 32 lowercase hex characters.
public struct JobID: Hashable, ValidatedString, CustomStringConvertible {
    public static let hexLength = 32
    public let rawValue: String

    /// A new random identifier.
    public static func random() -> JobID { JobID(unchecked: RandomHex.make(words: 2)) }

    /// Validates `text` (from a URL, say): exactly 32 lowercase hex characters.
    public init(validating text: String) throws(CatalogError) {
        let bytes = Array(text.utf8)
        guard bytes.count == Self.hexLength, bytes.allSatisfy(SHA256Digest.isLowercaseHex) else {
            throw .invalidJobID(text)
        }
        rawValue = text
    }

    private init(unchecked hex: String) { rawValue = hex }

    public var description: String { rawValue }
}
