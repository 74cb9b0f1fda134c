/// How a client refers to an adapter: by its content digest or by one of its names.
public enum AdapterReference: Hashable, Sendable, CustomStringConvertible {
    case digest(SHA256Digest)
    case name(AdapterName)

    /// A digest when `text` is 64 lowercase hex characters, otherwise a name (validated as a stored
    /// name is: a name made before its second part became a reserved word can still be looked up).
    public init(parsing text: String) throws(CatalogError) {
        if let digest = SHA256Digest(text) {
            self = .digest(digest)
        } else {
            do { self = .name(try AdapterName(stored: text)) } catch {
                throw .invalidReference(text, error)
            }
        }
    }

    public var description: String {
        switch self {
        case .digest(let digest): digest.hex
        case .name(let name): name.rawValue
        }
    }
}
