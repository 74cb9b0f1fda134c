/// SQLite's parameter markers rewritten as PostgreSQL's: the catalog's SQL is written once, with
/// `?` and `?N`, and the PostgreSQL backend sends `$N`.
///
/// SQLite's numbering is kept exactly: `?N` is parameter N, and a bare `?` is one more than the
/// largest number used before it (so `? ?3 ?` is `$1 $3 $4`). Markers inside string literals
/// (`'…'`, with `''` as an escaped quote), quoted identifiers (`"…"`) and comments (`-- …` to the
/// end of the line, `/* … */`) are left alone. A pure function of the text.
enum PostgresPlaceholders {
    /// The largest parameter number PostgreSQL's protocol can carry.
    static let maxParameterNumber = 65535

    /// The rewritten SQL and the number of parameters it takes (the largest marker number), or nil
    /// for a count when a marker is past `maxParameterNumber`.
    static func translate(_ sql: String) -> (sql: String, parameterCount: Int?) {
        let bytes = Array(sql.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 8)
        var largest = 0
        var outOfRange = false
        var index = 0
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // A quoted run up to the matching quote; a doubled quote inside is an escaped one and
                // simply reopens the run on the next iteration.
                let end = bytes[(index + 1)...].firstIndex(of: byte).map { $0 + 1 } ?? bytes.count
                output.append(contentsOf: bytes[index..<end])
                index = end
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "-"):
                let end = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                output.append(contentsOf: bytes[index..<end])
                index = end
            case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*"):
                var end = index + 2
                while end < bytes.count && !(bytes[end] == UInt8(ascii: "*") && end + 1 < bytes.count
                                              && bytes[end + 1] == UInt8(ascii: "/")) { end += 1 }
                end = min(end + 2, bytes.count)
                output.append(contentsOf: bytes[index..<end])
                index = end
            case UInt8(ascii: "?"):
                var end = index + 1
                while end < bytes.count && isDigit(bytes[end]) { end += 1 }
                output.append(UInt8(ascii: "$"))
                if end > index + 1 {
                    // Explicit: kept as written; a number past the limit (or past Int) only marks the SQL refused.
                    let digits = bytes[(index + 1)..<end]
                    if let number = Int(String(decoding: digits, as: UTF8.self)), number <= maxParameterNumber {
                        largest = max(largest, number)
                        output.append(contentsOf: String(number).utf8)   // ?01 is $1, as SQLite reads it
                    } else {
                        outOfRange = true
                        output.append(contentsOf: digits)
                    }
                } else if largest < maxParameterNumber {
                    largest += 1
                    output.append(contentsOf: String(largest).utf8)
                } else {
                    outOfRange = true
                    output.append(UInt8(ascii: "?"))
                }
                index = end
            default:
                output.append(byte)
                index += 1
            }
        }
        return (String(decoding: output, as: UTF8.self), outOfRange ? nil : largest)
    }
}
