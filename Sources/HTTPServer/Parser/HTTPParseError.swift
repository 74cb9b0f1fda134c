/// Why a request could not be parsed. Every case maps to the status the server answers with;
/// after any of them the server closes the connection (RFC 9112 §6.3: framing can no longer be trusted).
public enum HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    // Request line (RFC 9112 §3)
    case requestLineTooLong(limit: Int)
    case malformedRequestLine(String)
    case invalidMethod
    case invalidTarget(String)
    case invalidVersion
    case unsupportedVersion(String)
    // Lines and fields (RFC 9112 §2.2, §5)
    case bareCR
    case bareLF
    case headerFieldTooLarge(limit: Int)
    case headerSectionTooLarge(limit: Int)
    case tooManyHeaderFields(limit: Int)
    case invalidFieldName(String)
    case whitespaceBeforeColon(String)
    case obsoleteLineFolding
    case invalidFieldValue(name: String)
    // Semantics of the head (RFC 9110 §7.2, §8.6, §10.1.1; RFC 9112 §3.2, §6)
    case missingHost
    case multipleHosts
    case invalidHost(String)
    case invalidContentLength(String)
    case conflictingContentLength
    case contentLengthWithTransferEncoding
    case transferEncodingInHTTP10
    case chunkedNotFinal
    case chunkedAppliedTwice
    case unsupportedTransferCoding(String)
    case bodyTooLarge(limit: Int)
    case unsupportedExpectation(String)
    // Chunked body (RFC 9112 §7.1)
    case invalidChunkSize
    case chunkSizeTooLong(limit: Int)
    case invalidChunkExtension
    case chunkExtensionTooLong(limit: Int)
    case missingChunkTerminator
    case trailerSectionTooLarge(limit: Int)
    case tooManyTrailerFields(limit: Int)
    // End of input
    case incompleteMessage

    /// The status to answer with.
    public var status: HTTPStatus {
        switch self {
        case .requestLineTooLong: .uriTooLong
        case .headerFieldTooLarge, .headerSectionTooLarge, .tooManyHeaderFields,
             .trailerSectionTooLarge, .tooManyTrailerFields: .requestHeaderFieldsTooLarge
        case .unsupportedVersion: .httpVersionNotSupported
        case .unsupportedTransferCoding: .notImplemented
        case .bodyTooLarge: .contentTooLarge
        case .unsupportedExpectation: .expectationFailed
        default: .badRequest
        }
    }

    /// A short stable identifier, used as the last segment of the problem `type` (RFC 9457 §3.1.1).
    public var slug: String {
        switch self {
        case .requestLineTooLong: "request-line-too-long"
        case .malformedRequestLine: "malformed-request-line"
        case .invalidMethod: "invalid-method"
        case .invalidTarget: "invalid-target"
        case .invalidVersion: "invalid-version"
        case .unsupportedVersion: "unsupported-version"
        case .bareCR: "bare-cr"
        case .bareLF: "bare-lf"
        case .headerFieldTooLarge: "header-field-too-large"
        case .headerSectionTooLarge: "header-section-too-large"
        case .tooManyHeaderFields: "too-many-header-fields"
        case .invalidFieldName: "invalid-field-name"
        case .whitespaceBeforeColon: "whitespace-before-colon"
        case .obsoleteLineFolding: "obsolete-line-folding"
        case .invalidFieldValue: "invalid-field-value"
        case .missingHost: "missing-host"
        case .multipleHosts: "multiple-hosts"
        case .invalidHost: "invalid-host"
        case .invalidContentLength: "invalid-content-length"
        case .conflictingContentLength: "conflicting-content-length"
        case .contentLengthWithTransferEncoding: "content-length-with-transfer-encoding"
        case .transferEncodingInHTTP10: "transfer-encoding-in-http10"
        case .chunkedNotFinal: "chunked-not-final"
        case .chunkedAppliedTwice: "chunked-applied-twice"
        case .unsupportedTransferCoding: "unsupported-transfer-coding"
        case .bodyTooLarge: "body-too-large"
        case .unsupportedExpectation: "unsupported-expectation"
        case .invalidChunkSize: "invalid-chunk-size"
        case .chunkSizeTooLong: "chunk-size-too-long"
        case .invalidChunkExtension: "invalid-chunk-extension"
        case .chunkExtensionTooLong: "chunk-extension-too-long"
        case .missingChunkTerminator: "missing-chunk-terminator"
        case .trailerSectionTooLarge: "trailer-section-too-large"
        case .tooManyTrailerFields: "too-many-trailer-fields"
        case .incompleteMessage: "incomplete-message"
        }
    }

    public var description: String {
        switch self {
        case .requestLineTooLong(let limit): "the request line is longer than \(limit) bytes"
        case .malformedRequestLine(let why): "malformed request line: \(why)"
        case .invalidMethod: "the method is not a token"
        case .invalidTarget(let why): "invalid request-target: \(why)"
        case .invalidVersion: "the HTTP-version is not of the form HTTP/DIGIT.DIGIT"
        case .unsupportedVersion(let v): "\(v) is not supported; use HTTP/1.1"
        case .bareCR: "a CR not followed by LF"
        case .bareLF: "a line ended by LF without CR"
        case .headerFieldTooLarge(let limit): "a header field line is longer than \(limit) bytes"
        case .headerSectionTooLarge(let limit): "the header section is larger than \(limit) bytes"
        case .tooManyHeaderFields(let limit): "more than \(limit) header fields"
        case .invalidFieldName(let name): "invalid header field name \"\(name)\""
        case .whitespaceBeforeColon(let name): "whitespace between field name \"\(name)\" and colon"
        case .obsoleteLineFolding: "obsolete line folding (a field line starting with whitespace)"
        case .invalidFieldValue(let name): "header field \(name) has a control character in its value"
        case .missingHost: "an HTTP/1.1 request needs exactly one Host header field; none was sent"
        case .multipleHosts: "more than one Host header field"
        case .invalidHost(let host): "invalid Host \"\(host)\""
        case .invalidContentLength(let value): "Content-Length \"\(value)\" is not a decimal number in range"
        case .conflictingContentLength: "several different Content-Length values"
        case .contentLengthWithTransferEncoding: "both Content-Length and Transfer-Encoding"
        case .transferEncodingInHTTP10: "Transfer-Encoding in an HTTP/1.0 request"
        case .chunkedNotFinal: "Transfer-Encoding does not end with chunked"
        case .chunkedAppliedTwice: "chunked is applied more than once"
        case .unsupportedTransferCoding(let coding): "transfer coding \"\(coding)\" is not implemented"
        case .bodyTooLarge(let limit): "the request body is larger than \(limit) bytes"
        case .unsupportedExpectation(let value): "Expect \"\(value)\" is not supported; only 100-continue is"
        case .invalidChunkSize: "a chunk size is not hexadecimal digits"
        case .chunkSizeTooLong(let limit): "a chunk size has more than \(limit) hex digits"
        case .invalidChunkExtension: "malformed chunk extension"
        case .chunkExtensionTooLong(let limit): "a chunk extension is longer than \(limit) bytes"
        case .missingChunkTerminator: "chunk data is not followed by CRLF"
        case .trailerSectionTooLarge(let limit): "the trailer section is larger than \(limit) bytes"
        case .tooManyTrailerFields(let limit): "more than \(limit) trailer fields"
        case .incompleteMessage: "the connection ended in the middle of a request"
        }
    }
}
