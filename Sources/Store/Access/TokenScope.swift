/// What a token may do, each scope including the ones before it: `read` (list, describe, download),
/// `write` (upload, tag, pin, normalize), `admin` (delete adapters, manage tokens, read the audit log).
public enum TokenScope: String, CaseIterable, Comparable, Sendable, Codable {
    case read, write, admin

    private var rank: Int {
        switch self {
        case .read: 0
        case .write: 1
        case .admin: 2
        }
    }

    public static func < (lhs: TokenScope, rhs: TokenScope) -> Bool { lhs.rank < rhs.rank }

    /// Whether a token of this scope may do what `needed` allows.
    public func includes(_ needed: TokenScope) -> Bool { self >= needed }
}
