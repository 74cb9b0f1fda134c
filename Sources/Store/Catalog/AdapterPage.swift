/// One page of `AdapterCatalog.list`.
public struct AdapterPage: Hashable, Sendable {
    public var items: [AdapterRecord]
    /// Adapters matching the filters, over all pages.
    public var total: Int
    /// The offset of the next page, or nil on the last.
    public var nextOffset: Int?
}
