/// The header section of one multipart part, with its Content-Disposition parameters (RFC 7578 §4.2).
public struct MultipartPartHead: Sendable, Equatable {
    /// Header fields in order, names lower-cased.
    public let headers: [(name: String, value: String)]
    /// The `name` parameter of Content-Disposition: the form field.
    public let name: String?
    /// The `filename` parameter of Content-Disposition.
    public let filename: String?
    public var contentType: String? { headers.first { $0.name == "content-type" }?.value }

    public static func == (l: MultipartPartHead, r: MultipartPartHead) -> Bool {
        l.headers.map(\.name) == r.headers.map(\.name) && l.headers.map(\.value) == r.headers.map(\.value)
    }

    init(headers: [(name: String, value: String)]) {
        self.headers = headers
        let disposition = headers.first { $0.name == "content-disposition" }?.value
        let params = disposition.map(Self.parameters) ?? [:]
        name = params["name"]
        filename = params["filename"]
    }

    /// Parses `name: value` lines separated by CRLF (the section without its final empty line).
    init(parsing bytes: [UInt8]) throws(MultipartError) {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .malformedPartHeader("not UTF-8") }
        var fields: [(name: String, value: String)] = []
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else { throw .malformedPartHeader(String(line.prefix(80))) }
            let name = String(line[..<colon])
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenCharacter) else {
                throw .malformedPartHeader(String(line.prefix(80)))
            }
            let value = line[line.index(after: colon)...].trimmingSpaces
            guard !value.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) else {
                throw .malformedPartHeader(String(line.prefix(80)))
            }
            fields.append((name.lowercased(), value))
        }
        self.init(headers: fields)
    }

    /// `form-data; name="x"; filename="y"` → ["name": "x", "filename": "y"] (quoted-strings unescaped).
    static func parameters(_ value: String) -> [String: String] {
        var out: [String: String] = [:]
        var chars = Array(value.unicodeScalars)[...]
        // Skip the disposition type.
        while let c = chars.first, c != ";" { chars = chars.dropFirst() }
        while !chars.isEmpty {
            chars = chars.dropFirst()                                    // ";"
            while let c = chars.first, c == " " || c == "\t" { chars = chars.dropFirst() }
            var key = ""
            while let c = chars.first, c != "=", c != ";" { key.unicodeScalars.append(c); chars = chars.dropFirst() }
            guard chars.first == "=" else { continue }
            chars = chars.dropFirst()
            var v = ""
            if chars.first == "\"" {
                chars = chars.dropFirst()
                while let c = chars.first, c != "\"" {
                    if c == "\\", chars.count > 1 { chars = chars.dropFirst() }
                    v.unicodeScalars.append(chars.first!)
                    chars = chars.dropFirst()
                }
                chars = chars.dropFirst()
                while let c = chars.first, c != ";" { chars = chars.dropFirst() }
            } else {
                while let c = chars.first, c != ";" { v.unicodeScalars.append(c); chars = chars.dropFirst() }
                v = v.trimmingSpaces
            }
            out[key.trimmingSpaces.lowercased()] = v
        }
        return out
    }

    static func isTokenCharacter(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }
}
