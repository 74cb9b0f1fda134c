import AdapterFormats

/// Hand-built tar pieces for tests that need archives `TarWriter` would never write: pax and GNU
/// extended headers, lying lengths, base-256 fields.
public enum TarFixture {
    /// A pax record: the length counts itself, the space, `key=value` and the newline.
    public static func paxRecord(_ key: String, _ value: String) -> String {
        let base = key.utf8.count + value.utf8.count + 3
        var n = base
        while base + String(n).count != n { n = base + String(n).count }
        return "\(n) \(key)=\(value)\n"
    }

    /// An extended header of type `type` ("x", "g", "L", "K") carrying `body`, padded to a block;
    /// its size field says `declaredSize` (default: the body's length).
    public static func extended(_ type: Character, _ body: [UInt8], declaredSize: Int? = nil) throws -> [UInt8] {
        var h = try TarWriter.header(name: "PaxHeaders/x", size: declaredSize ?? body.count)
        h[156] = type.asciiValue ?? 0
        fixChecksum(&h)
        return h + body + TarWriter.padding(forSize: body.count)
    }

    /// A regular file entry.
    public static func file(_ name: String, _ content: [UInt8]) throws -> [UInt8] {
        try TarWriter.header(name: name, size: content.count) + content + TarWriter.padding(forSize: content.count)
    }

    /// A file header whose size field is GNU base-256 `Int.max`, followed by `data`.
    public static func base256IntMaxEntry(_ name: String, data: [UInt8]) throws -> [UInt8] {
        var h = try TarWriter.header(name: name, size: 0)
        h[124] = 0x80
        for i in 125..<128 { h[i] = 0 }
        h[128] = 0x7F
        for i in 129..<136 { h[i] = 0xFF }
        fixChecksum(&h)
        return h + data
    }

    /// Recomputes a header's checksum (POSIX: the sum of its bytes with the field read as spaces,
    /// six octal digits, NUL, space).
    public static func fixChecksum(_ h: inout [UInt8]) {
        for i in 148..<156 { h[i] = UInt8(ascii: " ") }
        let digits = String(h.reduce(0) { $0 + Int($1) }, radix: 8)
        let text = Array((String(repeating: "0", count: 6 - digits.count) + digits).utf8)
        for (i, b) in text.enumerated() { h[148 + i] = b }
        h[154] = 0
        h[155] = UInt8(ascii: " ")
    }
}
