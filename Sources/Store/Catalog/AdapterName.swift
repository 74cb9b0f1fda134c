/// A human name for an adapter (`my-adapter`, `llama-3.1-8b.support.v2`), like an image tag, with an
/// optional namespace as Hub repo ids and registry paths have (`team-a/chat-v2`).
///
/// One or two parts joined by a single `/`. Each part is 1–`maxPartLength` characters of
/// `[A-Za-z0-9._-]`, not starting with `.` or `-`, and not 64 lowercase hex characters (that would
/// read as a digest). So a name can never climb out of a directory, hide a file, look like a
/// command-line flag, or shadow a digest. The second part of a namespaced name is never one of
/// `reservedLocalParts`, the words that follow a name in the API's paths
/// (`/v1/adapters/{name}/squeezed/…`), so `/v1/adapters/a/squeezed/…` always means the adapter `a`.
public struct AdapterName: Hashable, Comparable, ValidatedString, CustomStringConvertible {
    /// The longest part (the namespace, or the name within it), in characters (ASCII, so also bytes).
    public static let maxPartLength = 128
    /// The longest name accepted: two parts and the `/`.
    public static let maxLength = 2 * maxPartLength + 1
    /// Words that cannot be the second part of a namespaced name: they follow a name in the API's paths.
    public static let reservedLocalParts: Set<String> = [
        "files", "squeezed", "merged", "merged.safetensors", "delta.safetensors", "spectrum", "spectrum.svg", "pin",
    ]

    public let rawValue: String

    public init(validating text: String) throws(AdapterNameError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw .empty }
        let slashes = bytes.indices.filter { bytes[$0] == UInt8(ascii: "/") }
        guard slashes.count <= 1 else { throw .tooManyParts(text) }
        if let slash = slashes.first {
            try Self.checkPart(bytes[..<slash], of: text, at: 0)
            try Self.checkPart(bytes[(slash + 1)...], of: text, at: slash + 1)
            let local = String(decoding: bytes[(slash + 1)...], as: UTF8.self)
            guard !Self.reservedLocalParts.contains(local) else { throw .reservedWord(text, word: local) }
        } else {
            try Self.checkPart(bytes[...], of: text, at: 0)
        }
        rawValue = text
    }

    /// A name read back from the catalog: valid under every rule but, possibly, the reserved words,
    /// which grow as the API gains paths (`delta.safetensors` joined later than names could be made).
    /// A name stored before its second part was reserved stays readable, by digest, and in the
    /// one-segment form of a path (`team-a%2Fdelta.safetensors`); only its two-segment form is taken.
    public init(stored text: String) throws(AdapterNameError) {
        do {
            try self.init(validating: text)
        } catch .reservedWord {
            self.init(unchecked: text)   // the reserved-word rule is checked last: every other one held
        }
    }

    private init(unchecked text: String) { rawValue = text }

    private static func checkPart(_ part: ArraySlice<UInt8>, of text: String, at start: Int) throws(AdapterNameError) {
        guard !part.isEmpty else { throw .emptyPart(text) }
        guard part.count <= maxPartLength else { throw .tooLong(text, length: part.count) }
        if let index = part.firstIndex(where: { !isAllowed($0) }) {
            throw .invalidCharacter(text, offset: index - part.startIndex + start)
        }
        guard let first = part.first, first != UInt8(ascii: "."), first != UInt8(ascii: "-") else {
            throw .invalidFirstCharacter(text)
        }
        guard SHA256Digest(String(decoding: part, as: UTF8.self)) == nil else { throw .looksLikeDigest(text) }
    }

    /// The part before the `/` (`team-a` of `team-a/chat-v2`), nil for a bare name.
    public var namespace: String? {
        guard let slash = rawValue.firstIndex(of: "/") else { return nil }
        return String(rawValue[..<slash])
    }

    /// Whether this name lies in `namespace` (`team-a/…`); a bare name lies in none.
    public func isIn(namespace: String) -> Bool { self.namespace == namespace }

    public var description: String { rawValue }

    public static func < (lhs: AdapterName, rhs: AdapterName) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `[A-Za-z0-9._-]`.
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// Validates a namespace on its own (a token's, say): one part under the same rules.
    public static func validateNamespace(_ text: String) throws(AdapterNameError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw .empty }
        try checkPart(bytes[...], of: text, at: 0)
    }
}

/// Why a string is not a valid adapter name.
public enum AdapterNameError: Error, Equatable, CustomStringConvertible {
    case empty
    /// A part (the whole name, the namespace or the name within it) is longer than `maxPartLength`.
    case tooLong(String, length: Int)
    /// The byte at `offset` (in UTF-8) is outside `[A-Za-z0-9._-]` (and is not the one `/`).
    case invalidCharacter(String, offset: Int)
    /// A part starts with `.` or `-`.
    case invalidFirstCharacter(String)
    /// A part is 64 lowercase hex characters: reserved for digests.
    case looksLikeDigest(String)
    /// More than one `/`.
    case tooManyParts(String)
    /// A `/` at the start or the end.
    case emptyPart(String)
    /// The name within a namespace is a word the API's paths use after a name.
    case reservedWord(String, word: String)

    public var description: String {
        switch self {
        case .empty:
            "an adapter name cannot be empty"
        case .tooLong(let text, let length):
            "adapter name \(quoted(text)) has a part of \(length) characters; at most \(AdapterName.maxPartLength) are allowed"
        case .invalidCharacter(let text, let offset):
            "adapter name \(quoted(text)): byte \(offset) is not one of A-Z a-z 0-9 . _ - (or the one / of namespace/name)"
        case .invalidFirstCharacter(let text):
            "adapter name \(quoted(text)): a part cannot start with '.' or '-'"
        case .looksLikeDigest(let text):
            "adapter name \(quoted(text)) has a part of 64 hex characters, which is reserved for digests"
        case .tooManyParts(let text):
            "adapter name \(quoted(text)) has more than one '/'; names are name or namespace/name"
        case .emptyPart(let text):
            "adapter name \(quoted(text)) has an empty part around its '/'"
        case .reservedWord(let text, let word):
            "adapter name \(quoted(text)): \"\(word)\" follows names in the API's paths and cannot be a name within a namespace"
        }
    }
}
