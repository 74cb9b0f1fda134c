/// Why a tar stream was refused, or an entry could not be written.
public enum TarError: Error, Equatable, CustomStringConvertible {
    case badChecksum(block: Int)
    case badHeaderField(field: String, block: Int)
    case unsafePath(String)
    case pathTooLong(limit: Int)
    case tooManyEntries(limit: Int)
    case extendedHeaderTooLarge(limit: Int)
    case truncated
    /// Writing: the name does not fit a ustar header, or the size is negative.
    case notRepresentable(name: String, size: Int)

    public var description: String {
        switch self {
        case let .badChecksum(block): "tar header at block \(block) has a wrong checksum (not a tar archive, or damaged)"
        case let .badHeaderField(field, block): "tar header at block \(block): field \(field) is malformed"
        case let .unsafePath(p): "tar entry \(p.prefix(120).debugDescription) has an absolute path, a NUL or a \"..\" component"
        case let .pathTooLong(limit): "a tar entry's path is longer than \(limit) bytes"
        case let .tooManyEntries(limit): "tar archive has more than \(limit) entries"
        case let .extendedHeaderTooLarge(limit): "a pax extended header or GNU long name exceeds \(limit) bytes"
        case .truncated: "the tar archive ends inside an entry or header"
        case let .notRepresentable(name, size):
            "tar entry \(name.prefix(120).debugDescription) of \(size) bytes cannot be written (names are at most 100 bytes, sizes non-negative)"
        }
    }
}
