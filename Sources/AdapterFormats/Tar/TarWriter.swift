/// Writes ustar archives piece by piece, so a server can stream files into one without holding them:
/// `header(…)`, the file's bytes, `padding(…)`, and after the last file `trailer`.
public enum TarWriter {
    /// The largest size the 11 octal digits of a ustar size field hold (8 GiB − 1); larger files are
    /// written with GNU's base-256 size field, which GNU tar, bsdtar and Python's `tarfile` all read.
    public static let maxOctalSize = 0o77777777777

    /// A ustar header block for a regular file. Throws `TarError.notRepresentable` for a name longer
    /// than 100 bytes or a negative size (the service only archives its own short file names).
    public static func header(name: String, size: Int, modificationTime: Int = 0, mode: Int = 0o644) throws(TarError) -> [UInt8] {
        guard name.utf8.count <= 100, size >= 0 else { throw .notRepresentable(name: name, size: size) }
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, at offset: Int) { for (i, b) in s.utf8.enumerated() { h[offset + i] = b } }
        func octal(_ v: Int, width: Int, at offset: Int) {
            let digits = String(v, radix: 8)
            put(String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits, at: offset)
        }
        put(name, at: 0)
        octal(mode & 0o7777, width: 8, at: 100)
        octal(0, width: 8, at: 108)
        octal(0, width: 8, at: 116)
        if size <= maxOctalSize {
            octal(size, width: 12, at: 124)
        } else {
            // GNU base-256: 0x80, then the size big-endian in the field's other 11 bytes.
            h[124] = 0x80
            var v = size
            for i in stride(from: 135, to: 124, by: -1) {
                h[i] = UInt8(truncatingIfNeeded: v)
                v >>= 8
            }
        }
        octal(min(max(0, modificationTime), maxOctalSize), width: 12, at: 136)
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
        [UInt8](repeating: 0, count: TarReader.padding(forSize: size))
    }

    /// The end-of-archive marker: two zero blocks.
    public static let trailer = [UInt8](repeating: 0, count: 1024)

    /// The archive's total length for files of these sizes.
    public static func archiveSize(fileSizes: [Int]) -> Int {
        fileSizes.reduce(1024) { $0 + 512 + $1 + TarReader.padding(forSize: $1) }
    }
}
