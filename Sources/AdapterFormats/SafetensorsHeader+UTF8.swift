extension SafetensorsHeader {
    /// The offset of the first byte that breaks UTF-8 (RFC 3629 §4: no overlong forms, no
    /// surrogates, nothing past U+10FFFF, no truncated sequence), or nil if all are valid.
    /// The reference rejects such a header before parsing it (`str::from_utf8` → `InvalidHeader`).
    static func firstInvalidUTF8Offset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count
        var i = 0
        while i < count {
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            let continuations: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF    // allowed range of the first continuation byte
            switch lead {
            case 0xC2...0xDF: continuations = 1
            case 0xE0: continuations = 2; low = 0xA0     // no overlong 3-byte forms
            case 0xE1...0xEC, 0xEE...0xEF: continuations = 2
            case 0xED: continuations = 2; high = 0x9F    // no UTF-16 surrogates
            case 0xF0: continuations = 3; low = 0x90     // no overlong 4-byte forms
            case 0xF1...0xF3: continuations = 3
            case 0xF4: continuations = 3; high = 0x8F    // nothing past U+10FFFF
            default: return i                            // 0x80...0xC1, 0xF5...0xFF never lead
            }
            // A sequence cut short by the end of the header is reported at its lead byte.
            guard i + continuations < count else { return i }
            guard (low...high).contains(bytes[i + 1]) else { return i + 1 }
            var k = 2
            while k <= continuations {
                guard (0x80...0xBF).contains(bytes[i + k]) else { return i + k }
                k += 1
            }
            i += continuations + 1
        }
        return nil
    }
}
