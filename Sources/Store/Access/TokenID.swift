/// A token's public identifier (what lists, revocations and the audit log name): 64 random bits as
/// 16 lowercase hex characters. It says nothing of the secret.
public struct TokenID: Hashable, ValidatedString, CustomStringConvertible {
    public static let hexLength = 16
    public let rawValue: String

    /// A new random identifier.
    public static func random() -> TokenID { TokenID(unchecked: RandomHex.make(words: 1)) }

    /// Validates `text` (from a URL, say): exactly 16 lowercase hex characters.
    public init(validating text: String) throws(CatalogError) {
        let bytes = Array(text.utf8)
        guard bytes.count == Self.hexLength, bytes.allSatisfy(SHA256Digest.isLowercaseHex) else {
            throw .invalidTokenID(text)
        }
        rawValue = text
    }

    private init(unchecked hex: String) { rawValue = hex }

    public var description: String { rawValue }
}
