/// Why a multipart body was refused.
public enum MultipartError: Error, Equatable, CustomStringConvertible {
    case invalidBoundary(String)
    case malformedDelimiter
    case malformedPartHeader(String)
    case partHeadersTooLarge(limit: Int)
    case preambleTooLarge(limit: Int)
    case tooManyParts(limit: Int)
    case truncated

    public var description: String {
        switch self {
        case let .invalidBoundary(b): "multipart boundary \"\(b.prefix(80))\" is not 1–70 allowed characters (RFC 2046 §5.1.1)"
        case .malformedDelimiter: "a multipart boundary line is not followed by CRLF or \"--\""
        case let .malformedPartHeader(line): "malformed multipart part header: \(line)"
        case let .partHeadersTooLarge(limit): "a multipart part's headers exceed \(limit) bytes"
        case let .preambleTooLarge(limit): "no multipart boundary within the first \(limit) bytes"
        case let .tooManyParts(limit): "more than \(limit) multipart parts"
        case .truncated: "the multipart body ends before its closing boundary"
        }
    }
}
