/// Writes ustar archives piece by piece, so a server can stream files into one without holding them:
/// `header(…)`, the file's bytes, `padding(…)`, and after the last file `trailer`.
public enum TarWriter {
    /// A ustar header block for a regular file. Names longer than 100 bytes are refused by precondition
    /// (the service only archives its own short file names).
    public static func header(name: String, size: Int, modificationTime: Int = 0, mode: Int = 0o644) -> [UInt8] {
        precondition(name.utf8.count <= 100 && size >= 0 && size < 0o77777777777, "tar entry \(name) not representable")
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, at offset: Int) { for (i, b) in s.utf8.enumerated() { h[offset + i] = b } }
        func octal(_ v: Int, width: Int, at offset: Int) {
            let digits = String(v, radix: 8)
            put(String(repeating: "0", count: width - 1 - digits.count) + digits, at: offset)
        }
        put(name, at: 0)
        octal(mode, width: 8, at: 100)
        octal(0, width: 8, at: 108)
        octal(0, width: 8, at: 116)
        octal(size, width: 12, at: 124)
        octal(max(0, modificationTime), width: 12, at: 136)
        h[156] = UInt8(ascii: "0")
        put("ustar", at: 257)
        put("00", at: 263)
        for i in 148..<156 { h[i] = UInt8(ascii: " ") }
        let sum = h.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - digits.count) + digits, at: 148)
        h[154] = 0
        h[155] = UInt8(ascii: " ")
        return h
    }

    /// Zero bytes that round a file of `size` bytes up to a whole block.
    public static func padding(forSize size: Int) -> [UInt8] {
        [UInt8](repeating: 0, count: (512 - size % 512) % 512)
    }

    /// The end-of-archive marker: two zero blocks.
    public static let trailer = [UInt8](repeating: 0, count: 1024)

    /// The archive's total length for files of these sizes.
    public static func archiveSize(fileSizes: [Int]) -> Int {
        fileSizes.reduce(1024) { $0 + 512 + $1 + (512 - $1 % 512) % 512 }
    }
}
