/// Conversions between `Float` and the 16-bit float formats stored in safetensors files,
/// done on bit patterns so they do not depend on the platform's `Float16` support or on
/// the floating-point environment (flush-to-zero cannot change a result here).
///
/// Narrowing rounds to nearest, ties to even (IEEE 754 roundTiesToEven). NaN stays NaN
/// (made quiet, sign and top payload bits kept); ±Inf and ±0 keep their sign.
public enum FloatConversion {

    // MARK: bfloat16: the top half of a binary32

    /// `x` as bfloat16 bits, rounded to nearest even. Values past the largest bfloat16 become ±Inf.
    @inlinable
    public static func bf16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN {
            // Truncating a NaN whose payload sits only in the low 16 bits would give Inf;
            // setting the quiet bit (bit 6 of bfloat16) keeps it a NaN.
            return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        }
        // Adding 0x7FFF plus the lowest kept bit rounds ties to even; a carry into the
        // exponent is the correct result, up to and including overflow to Inf.
        let lowestKeptBit = (bits >> 16) & 1
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ lowestKeptBit) >> 16)
    }

    /// The `Float` that bfloat16 `bits` stand for (exact: every bfloat16 is a binary32).
    @inlinable
    public static func float(bf16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    // MARK: IEEE binary16

    /// `x` as IEEE binary16 bits, rounded to nearest even, with binary16 subnormals
    /// produced exactly; magnitudes from 65520 up (the tie above 65504) become ±Inf.
    @inlinable
    public static func f16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let magnitude = bits & 0x7FFF_FFFF

        if magnitude >= 0x7F80_0000 {                    // Inf or NaN
            if magnitude == 0x7F80_0000 { return sign | 0x7C00 }
            // NaN: quiet bit set, top 9 payload bits kept.
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x03FF)
        }
        if magnitude >= 0x4780_0000 {                    // 2^16 and up: past every binary16
            return sign | 0x7C00
        }
        if magnitude >= 0x3880_0000 {                    // 2^-14 and up: a binary16 normal
            // Rebias the exponent (127 → 15, i.e. subtract 112 << 23), keep 10 mantissa bits.
            let rebiased = magnitude &- 0x3800_0000
            var half = rebiased >> 13
            let dropped = rebiased & 0x1FFF
            if dropped > 0x1000 || (dropped == 0x1000 && half & 1 == 1) {
                half += 1                                // may carry to 0x7C00: correctly Inf
            }
            return sign | UInt16(truncatingIfNeeded: half)
        }
        if magnitude <= 0x3300_0000 {                    // up to 2^-25: rounds to ±0 (2^-25 ties to even 0)
            return sign
        }
        // A binary16 subnormal: the value is m × 2^-24 for a possibly fractional m.
        let exponent = magnitude >> 23                   // 102 ... 112
        let significand = (magnitude & 0x007F_FFFF) | 0x0080_0000
        let shift = 126 - exponent                       // 14 ... 24
        var half = significand >> shift
        let dropped = significand & ((1 << shift) - 1)
        let halfway: UInt32 = 1 << (shift - 1)
        if dropped > halfway || (dropped == halfway && half & 1 == 1) {
            half += 1                                    // 0x3FF + 1 is the smallest normal: correct
        }
        return sign | UInt16(truncatingIfNeeded: half)
    }

    /// The `Float` that binary16 `bits` stand for (exact: every binary16 is a binary32).
    @inlinable
    public static func float(f16Bits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F {                            // Inf, or NaN with its payload
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent != 0 {                               // normal: rebias 15 → 127
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
        if mantissa == 0 { return Float(bitPattern: sign) }
        // Subnormal m × 2^-24: normalise around the highest set bit p (0 ... 9).
        let p = UInt32(31 - mantissa.leadingZeroBitCount)
        return Float(bitPattern: sign | ((p + 103) << 23) | ((mantissa << (23 - p)) & 0x007F_FFFF))
    }

    // MARK: Whole buffers

    /// Decodes little-endian `dtype` elements (F32, F16, BF16 or F64) to `Float`.
    /// `raw` may be unaligned; it is read byte-wise or with unaligned loads, never through
    /// a misaligned typed pointer.
    static func decode(_ raw: UnsafeRawBufferPointer, as dtype: DType) -> [Float] {
        precondition(dtype.isFloatReadable, "decode called with non-float dtype \(dtype.rawValue)")
        let count = raw.count / dtype.byteWidth
        guard count > 0, let source = raw.baseAddress else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            let target = out.baseAddress!
            switch dtype {
            case .f32:
                #if _endian(little)
                UnsafeMutableRawPointer(target).copyMemory(from: source, byteCount: count * 4)
                #else
                for i in 0..<count {
                    target[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
                #endif
            case .bf16:
                for i in 0..<count {
                    target[i] = float(bf16Bits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .f16:
                for i in 0..<count {
                    target[i] = float(f16Bits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .f64:
                for i in 0..<count {
                    // Float(Double) rounds to nearest even; out-of-range values become ±Inf.
                    target[i] = Float(Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                }
            default:
                fatalError("unreachable: \(dtype.rawValue) is not float-readable")
            }
            initialized = count
        }
    }

    /// Encodes `values` as little-endian `dtype` elements (F32, F16 or BF16).
    public static func encode(_ values: [Float], as dtype: DType) -> [UInt8] {
        precondition(dtype.isFloatWritable, "encode called with non-writable dtype \(dtype.rawValue)")
        let byteCount = values.count * dtype.byteWidth
        guard byteCount > 0 else { return [] }
        return values.withUnsafeBufferPointer { source in
            [UInt8](unsafeUninitializedCapacity: byteCount) { out, initialized in
                let target = UnsafeMutableRawPointer(out.baseAddress!)
                switch dtype {
                case .f32:
                    #if _endian(little)
                    target.copyMemory(from: source.baseAddress!, byteCount: byteCount)
                    #else
                    for i in 0..<source.count {
                        target.storeBytes(of: source[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                    }
                    #endif
                case .bf16:
                    for i in 0..<source.count {
                        target.storeBytes(of: bf16Bits(source[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                    }
                case .f16:
                    for i in 0..<source.count {
                        target.storeBytes(of: f16Bits(source[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                    }
                default:
                    fatalError("unreachable: \(dtype.rawValue) is not float-writable")
                }
                initialized = byteCount
            }
        }
    }
}
