import AdapterFormats
import HTTPServer

/// What a `/hub/{view}` prefix serves: every adapter's files as uploaded (`original`), or squeezed
/// to one deployment rank (`r16`), optionally cast to one dtype (`r16-bf16`). A whole fleet is
/// normalized by pointing `HF_ENDPOINT` at one view.
enum HubView: Sendable, Equatable {
    case original
    case squeezed(rank: Int, dtype: DType?)

    /// The longest view segment read (`r` + rank digits + `-bf16`); anything longer is refused unread.
    static let maxLength = 16

    /// The dtype suffixes, as written in the prefix.
    static let dtypes: [(String, DType)] = [("f32", .f32), ("f16", .f16), ("bf16", .bf16)]

    /// Parses a view segment. `maxRank` is the server's squeeze limit. A rank is written without a
    /// sign or leading zeros, so each view has one spelling (and one cache of client snapshots).
    init(parsing text: String, maxRank: Int) throws(HTTPError) {
        if text == "original" {
            self = .original
            return
        }
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maxLength, bytes.first == UInt8(ascii: "r") else { throw Self.unknown(text) }
        var digits = bytes.dropFirst()
        var dtype: DType?
        if let dash = digits.firstIndex(of: UInt8(ascii: "-")) {
            let suffix = String(decoding: digits[(dash + 1)...], as: UTF8.self)
            guard let match = Self.dtypes.first(where: { $0.0 == suffix }) else { throw Self.unknown(text) }
            dtype = match.1
            digits = digits[..<dash]
        }
        guard !digits.isEmpty, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              digits.first != UInt8(ascii: "0") || digits.count == 1 else { throw Self.unknown(text) }
        guard let rank = Int(String(decoding: digits, as: UTF8.self)), (1...maxRank).contains(rank) else {
            throw HTTPError(.notFound, type: "unknown-hub-view",
                            detail: "hub view \"\(text)\": the rank must be from 1 to \(maxRank)")
        }
        self = .squeezed(rank: rank, dtype: dtype)
    }

    /// The segment that names this view.
    var segment: String {
        switch self {
        case .original: "original"
        case let .squeezed(rank, dtype):
            "r\(rank)" + (dtype.flatMap { d in Self.dtypes.first { $0.1 == d }.map { "-" + $0.0 } } ?? "")
        }
    }

    private static func unknown(_ text: String) -> HTTPError {
        HTTPError(.notFound, type: "unknown-hub-view",
                  detail: "\"\(text.prefix(40))\" is not a hub view: use /hub/original, /hub/r{rank} or /hub/r{rank}-{f32|f16|bf16}")
    }
}
