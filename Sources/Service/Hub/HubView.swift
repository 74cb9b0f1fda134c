import AdapterFormats
import HTTPServer

/// What a `/hub/{view}` prefix serves: every adapter's files as uploaded (`original`), or squeezed
/// to one deployment rank (`r16`), optionally cast to one dtype (`r16-bf16`). A whole fleet is
/// normalized by pointing `HF_ENDPOINT` at one view. `merged-r16` (and `merged-original`) serves each
/// adapter as a model repository instead: its base model with the adapter (squeezed to 16, or as
/// uploaded) merged into the weights, for hosts without LoRA support.
enum HubView: Sendable, Equatable {
    case original
    case squeezed(rank: Int, dtype: DType?)
    /// The merged model; rank nil merges the adapter as uploaded.
    case merged(rank: Int?)

    /// What a merged view's segment starts with.
    static let mergedPrefix = "merged-"

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
        if text.hasPrefix(Self.mergedPrefix), text.utf8.count <= Self.maxLength {
            let rest = String(text.dropFirst(Self.mergedPrefix.count))
            if rest == "original" {
                self = .merged(rank: nil)
                return
            }
            guard !rest.hasPrefix("original"), case let .squeezed(rank, nil) = try HubView(parsing: rest, maxRank: maxRank) else {
                throw Self.unknown(text)
            }
            self = .merged(rank: rank)
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
        case let .merged(rank):
            Self.mergedPrefix + (rank.map { "r\($0)" } ?? "original")
        }
    }

    private static func unknown(_ text: String) -> HTTPError {
        HTTPError(.notFound, type: "unknown-hub-view",
                  detail: "\"\(text.prefix(40))\" is not a hub view: use /hub/original, /hub/r{rank}, /hub/r{rank}-{f32|f16|bf16}, /hub/merged-r{rank} or /hub/merged-original")
    }
}
