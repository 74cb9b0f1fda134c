/// A path pattern: literal segments, `:name` parameters matching one segment, and an optional
/// trailing `*` matching the rest of the path (captured as parameter "*").
public struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
        case rest

        var specificity: Int {
            switch self {
            case .literal: 2
            case .parameter: 1
            case .rest: 0
            }
        }
    }

    let segments: [Segment]
    public let description: String
    /// Ends in `*`: matches paths of `segments.count - 1` segments or more.
    let hasRest: Bool

    public init(_ pattern: String) {
        description = pattern
        let parts = pattern.split(separator: "/", omittingEmptySubsequences: true)
        segments = parts.enumerated().map { index, part in
            if part == "*", index == parts.count - 1 { return .rest }
            if part.hasPrefix(":"), part.count > 1 { return .parameter(String(part.dropFirst())) }
            return .literal(String(part))
        }
        hasRest = segments.last == .rest
    }

    /// Whether a path of `count` segments could match (checked before anything is compared).
    func admits(segmentCount count: Int) -> Bool {
        hasRest ? count >= segments.count - 1 : count == segments.count
    }

    /// Of two patterns that match the same path, whether this one names it more precisely: at the
    /// first segment where they differ in kind, a literal beats a `:parameter`, which beats `*`.
    /// `/a/:id/pin` is more specific than `/a/:id/:file`, so a request for `/a/1/pin` belongs to it
    /// alone (its methods, its `Allow`), never to the file route.
    func isMoreSpecific(than other: RoutePattern) -> Bool {
        for (mine, theirs) in zip(segments, other.segments) where mine.specificity != theirs.specificity {
            return mine.specificity > theirs.specificity
        }
        return segments.count > other.segments.count
    }

    /// The parameters when `path` (percent-encoded) matches, else nil. Segments are percent-decoded
    /// before comparison; a segment that does not decode to UTF-8 matches nothing.
    func match(_ path: String) -> [String: String]? { match(RoutePath(path)) }

    /// The same on a path split and decoded once (the router matches one path against every route).
    func match(_ path: RoutePath) -> [String: String]? {
        guard admits(segmentCount: path.count) else { return nil }
        var parameters: [String: String] = [:]
        for (i, segment) in segments.enumerated() {
            switch segment {
            case .rest:
                guard let rest = path.decodedRest(from: i) else { return nil }
                parameters["*"] = rest
                return parameters
            case .literal(let literal):
                guard path.decoded[i] == literal else { return nil }
            case .parameter(let name):
                guard let decoded = path.decoded[i] else { return nil }
                parameters[name] = decoded
            }
        }
        return parameters
    }
}

/// A request path split at `/` (empty segments dropped) and each segment percent-decoded, once.
struct RoutePath {
    let raw: [Substring]
    /// Each segment decoded; nil where it does not decode to UTF-8.
    let decoded: [String?]

    init(_ path: String) {
        raw = path.split(separator: "/", omittingEmptySubsequences: true)
        // A segment without `%` decodes to itself (a request target is ASCII, so it is valid UTF-8).
        decoded = raw.map { $0.utf8.contains(ASCII.percent) ? PercentDecoding.decode(String($0)) : String($0) }
    }

    var count: Int { raw.count }

    /// Segments `from`… joined by `/` and decoded (for a trailing `*`).
    func decodedRest(from index: Int) -> String? {
        PercentDecoding.decode(raw[index...].joined(separator: "/"))
    }
}
