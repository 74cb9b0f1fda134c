/// Widening reads for numerical work: every float dtype converts to `Double` exactly, and the scan
/// for NaN/±Inf rides along in the same pass (an integer test on the exponent bits, so the loop
/// stays branch-free and vectorisable).
extension SafetensorsFile {
    /// The tensor's values as `Double`, and the flat index of its first NaN or ±Inf if it has one.
    public func doubles(_ entry: TensorEntry) throws(SafetensorsError) -> (values: [Double], firstNonFinite: Int?) {
        guard entry.dtype.isFloatReadable else { throw .notFloatReadable(tensor: entry.name, dtype: entry.dtype) }
        let n = entry.elementCount
        guard n > 0 else { return ([], nil) }   // an empty buffer may have no base address
        var bad: Int?
        let values = [Double](unsafeUninitializedCapacity: n) { out, count in
            bad = decode(entry, elements: 0..<n, into: out.baseAddress!)
            count = n
        }
        return (values, bad)
    }

    /// Widens elements `range` (flat, row-major) of a float tensor into `out`, returning the flat index
    /// of the first NaN or ±Inf among them, if any. The entry must be float-readable and from this file.
    public func decode(_ entry: TensorEntry, elements range: Range<Int>, into out: UnsafeMutablePointer<Double>) -> Int? {
        precondition(entry.dtype.isFloatReadable && range.lowerBound >= 0 && range.upperBound <= entry.elementCount,
                     "decode(\(entry.name), \(range)) outside the tensor or not a float dtype")
        let raw = rawBytes(of: entry)
        let (lo, n) = (range.lowerBound, range.count)
        let bad: UInt64
        switch entry.dtype {
        case .f32:
            bad = Self.widen(raw.baseAddress! + 4 &* lo, count: n, into: out, as: UInt32.self) { bits in
                (((bits & 0x7F80_0000) &+ 0x0080_0000) & 0x8000_0000, Double(Float(bitPattern: bits)))
            }
        case .bf16:
            bad = Self.widen(raw.baseAddress! + 2 &* lo, count: n, into: out, as: UInt16.self) { half in
                let bits = UInt32(half) << 16
                return (((bits & 0x7F80_0000) &+ 0x0080_0000) & 0x8000_0000, Double(Float(bitPattern: bits)))
            }
        case .f16:
            bad = Self.widen(raw.baseAddress! + 2 &* lo, count: n, into: out, as: UInt16.self) { bits in
                (UInt32(((bits & 0x7C00) &+ 0x0400) & 0x8000), Double(FloatConversion.float(f16Bits: bits)))
            }
        default: // .f64, the only other float-readable dtype
            bad = Self.widen(raw.baseAddress! + 8 &* lo, count: n, into: out, as: UInt64.self) { bits in
                (UInt32(truncatingIfNeeded: (((bits & 0x7FF0_0000_0000_0000) &+ 0x0010_0000_0000_0000) >> 32) & 0x8000_0000),
                 Double(bitPattern: bits))
            }
        }
        if bad == 0 { return nil }
        return (0..<n).first { !out[$0].isFinite }.map { lo + $0 }
    }

    /// The widening loop: typed loads when the data is aligned (LLVM vectorises that form), unaligned
    /// loads otherwise. `convert` returns a nonzero flag for a non-finite value, and the value.
    @inline(__always)
    private static func widen<Bits: FixedWidthInteger>(
        _ base: UnsafeRawPointer, count n: Int, into out: UnsafeMutablePointer<Double>, as: Bits.Type,
        _ convert: (Bits) -> (UInt32, Double)
    ) -> UInt64 {
        var bad: UInt32 = 0
        if Int(bitPattern: base) % MemoryLayout<Bits>.alignment == 0 {
            let typed = base.assumingMemoryBound(to: Bits.self)
            for i in 0..<n {
                let (flag, value) = convert(typed[i])
                bad |= flag
                out[i] = value
            }
        } else {
            for i in 0..<n {
                let (flag, value) = convert((base + i &* MemoryLayout<Bits>.size).loadUnaligned(as: Bits.self))
                bad |= flag
                out[i] = value
            }
        }
        return UInt64(bad)
    }
}
