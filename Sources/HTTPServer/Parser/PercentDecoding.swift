/// %XX escapes of URI components (RFC 3986 §2.1) and of form bodies, decoded to UTF-8 text.
enum PercentDecoding {
    /// Decodes %XX escapes; nil when an escape is malformed or the result is not UTF-8.
    static func decode(_ text: String, plusAsSpace: Bool = false) -> String? {
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == ASCII.percent {
                guard i + 2 < bytes.count, let hi = ASCII.hexValue(bytes[i + 1]), let lo = ASCII.hexValue(bytes[i + 2])
                else { return nil }
                out.append(UInt8(hi * 16 + lo))
                i += 3
            } else {
                out.append(plusAsSpace && b == UInt8(ascii: "+") ? ASCII.sp : b)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}
