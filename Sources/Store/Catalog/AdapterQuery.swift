/// A page request for `AdapterCatalog.list`: newest first, optionally filtered.
public struct AdapterQuery: Hashable, Sendable {
    /// The most adapters one page may hold.
    public static let maxLimit = 1000

    /// Adapters per page, 1...`maxLimit`.
    public var limit: Int
    /// Adapters to skip, ≥ 0.
    public var offset: Int
    /// Only adapters with at least one name starting with this (`""`: only named adapters).
    public var namePrefix: String?
    /// Only adapters for exactly this base model.
    public var baseModel: String?
    /// Only adapters with a name in this namespace (`team-a/…`); with `namePrefix`, one name must
    /// satisfy both.
    public var namespace: String?

    public init(limit: Int = 100, offset: Int = 0, namePrefix: String? = nil, baseModel: String? = nil,
                namespace: String? = nil) {
        self.limit = limit
        self.offset = offset
        self.namePrefix = namePrefix
        self.baseModel = baseModel
        self.namespace = namespace
    }

    func validate() throws(CatalogError) {
        guard (1...Self.maxLimit).contains(limit) else {
            throw .invalidQuery("limit \(limit) is outside 1...\(Self.maxLimit)")
        }
        guard offset >= 0 else { throw .invalidQuery("offset \(offset) is negative") }
        if let namePrefix {
            let bytes = Array(namePrefix.utf8)
            guard bytes.count <= AdapterName.maxLength else {
                throw .invalidQuery("name prefix has \(bytes.count) characters; names have at most \(AdapterName.maxLength)")
            }
            if let offset = bytes.firstIndex(where: { !AdapterName.isAllowed($0) && $0 != UInt8(ascii: "/") }) {
                throw .invalidQuery("name prefix \(quoted(namePrefix)): byte \(offset) is not one of A-Z a-z 0-9 . _ - /")
            }
        }
        if let namespace {
            do { try AdapterName.validateNamespace(namespace) } catch {
                throw .invalidQuery("namespace: \(error)")
            }
        }
    }
}
