extension FloatConversion {
    // MARK: From Double, rounded once

    /// `x` as a `Float` rounded to odd: truncated toward zero, and when that dropped anything, the
    /// lowest mantissa bit set. Rounding this to a format at least two bits narrower than binary32
    /// (bfloat16: 8 bits, binary16: 11, against 24) gives exactly what rounding `x` to that format
    /// directly would (Boldo and Melquiond, "When double rounding is odd", 2005) — unlike rounding
    /// to nearest twice, which lands a value just below a tie on the tie and then rounds it the
    /// wrong way.
    @inlinable
    static func floatRoundedToOdd(_ x: Double) -> Float {
        let nearest = Float(x)
        guard x.isFinite, Double(nearest) != x else { return nearest }   // exact, or NaN/±Inf as they are
        var truncated = nearest
        // Magnitude one step down: the bit pattern of a finite or infinite Float orders magnitudes.
        if abs(Double(nearest)) > abs(x) { truncated = Float(bitPattern: nearest.bitPattern &- 1) }
        return Float(bitPattern: truncated.bitPattern | 1)
    }

    /// `x` as bfloat16 bits, rounded once to nearest even (never through a rounded binary32).
    @inlinable
    public static func bf16Bits(_ x: Double) -> UInt16 { bf16Bits(floatRoundedToOdd(x)) }

    /// `x` as IEEE binary16 bits, rounded once to nearest even (never through a rounded binary32).
    @inlinable
    public static func f16Bits(_ x: Double) -> UInt16 { f16Bits(floatRoundedToOdd(x)) }

    /// Encodes `values` as little-endian `dtype` elements (F32, F16 or BF16), each rounded once to
    /// nearest even from its double-precision value.
    public static func encode(_ values: UnsafeBufferPointer<Double>, as dtype: DType, into target: UnsafeMutableRawPointer) {
        precondition(dtype.isFloatWritable, "encode called with non-writable dtype \(dtype.rawValue)")
        switch dtype {
        case .f32:
            for i in 0..<values.count {
                target.storeBytes(of: Float(values[i]).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
            }
        case .bf16:
            for i in 0..<values.count {
                target.storeBytes(of: bf16Bits(values[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        case .f16:
            for i in 0..<values.count {
                target.storeBytes(of: f16Bits(values[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        default:
            fatalError("unreachable: \(dtype.rawValue) is not float-writable")
        }
    }

    /// Decodes little-endian `dtype` elements (F32, F16, BF16 or F64) to `Double`, exactly.
    public static func decodeDoubles(_ raw: UnsafeRawBufferPointer, as dtype: DType, into target: UnsafeMutableBufferPointer<Double>) {
        precondition(dtype.isFloatReadable, "decode called with non-float dtype \(dtype.rawValue)")
        let count = min(raw.count / dtype.byteWidth, target.count)
        guard count > 0, let source = raw.baseAddress else { return }
        switch dtype {
        case .f32:
            for i in 0..<count {
                target[i] = Double(Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
            }
        case .bf16:
            for i in 0..<count {
                target[i] = Double(float(bf16Bits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            }
        case .f16:
            for i in 0..<count {
                target[i] = Double(float(f16Bits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            }
        case .f64:
            for i in 0..<count {
                target[i] = Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
            }
        default:
            fatalError("unreachable: \(dtype.rawValue) is not float-readable")
        }
    }
}
