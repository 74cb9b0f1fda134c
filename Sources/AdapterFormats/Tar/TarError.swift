/// Why a tar stream was refused.
public enum TarError: Error, Equatable, CustomStringConvertible {
    case badChecksum(block: Int)
    case badHeaderField(field: String, block: Int)
    case unsafePath(String)
    case tooManyEntries(limit: Int)
    case extendedHeaderTooLarge(limit: Int)
    case truncated

    public var description: String {
        switch self {
        case let .badChecksum(block): "tar header at block \(block) has a wrong checksum (not a tar archive, or damaged)"
        case let .badHeaderField(field, block): "tar header at block \(block): field \(field) is malformed"
        case let .unsafePath(p): "tar entry \"\(p.prefix(120))\" has an absolute path or a \"..\" component"
        case let .tooManyEntries(limit): "tar archive has more than \(limit) entries"
        case let .extendedHeaderTooLarge(limit): "a pax extended header exceeds \(limit) bytes"
        case .truncated: "the tar archive ends inside an entry or header"
        }
    }
}
