/// HTML in which only the program's own literal text is markup. Every `String` interpolated is
/// escaped (`&`, `<`, `>`, `"`, `'`: safe in text and in quoted attribute values alike); only an
/// `HTML` value interpolates as markup. So an adapter name, a config field or an error text can
/// never become a tag or leave an attribute, whichever way a page is written:
///
///     let row: HTML = "<td title=\"\(name)\">\(name)</td>"   // name = "<script>…" stays text
///
/// Every attribute in the dashboard's markup is quoted, and every URL it builds starts with `/`.
struct HTML: Sendable, Equatable, ExpressibleByStringInterpolation {
    private(set) var markup: String

    init(stringLiteral literal: StaticString) { markup = literal.description }
    init(stringInterpolation: Interpolation) { markup = stringInterpolation.markup }
    init() { markup = "" }

    struct Interpolation: StringInterpolationProtocol {
        var markup = ""
        init(literalCapacity: Int, interpolationCount: Int) { markup.reserveCapacity(literalCapacity + 24 * interpolationCount) }
        mutating func appendLiteral(_ literal: StaticString) { markup += literal.description }
        mutating func appendInterpolation(_ text: some StringProtocol) { HTML.escape(text, into: &markup) }
        mutating func appendInterpolation(_ html: HTML) { markup += html.markup }
        mutating func appendInterpolation(_ parts: [HTML]) { for part in parts { markup += part.markup } }
        mutating func appendInterpolation(_ number: Int) { markup += String(number) }
        mutating func appendInterpolation(_ number: Int64) { markup += String(number) }
    }

    mutating func append(_ other: HTML) { markup += other.markup }
    static func += (lhs: inout HTML, rhs: HTML) { lhs.markup += rhs.markup }

    /// `text` with the five characters that could end text or a quoted attribute replaced.
    static func escape(_ text: some StringProtocol, into output: inout String) {
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&#39;"
            default: output.unicodeScalars.append(scalar)
            }
        }
    }

    static func escaped(_ text: some StringProtocol) -> String {
        var output = ""
        escape(text, into: &output)
        return output
    }

    var bytes: [UInt8] { Array(markup.utf8) }
}
