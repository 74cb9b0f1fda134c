import Testing
@testable import AdapterFormats
import TestSupport

/// Rounding a `Double` to bfloat16 or binary16 once, against an oracle that knows nothing of the
/// implementation: the two neighbours found by binary search over the format's bit patterns, and
/// the nearer one (the even one on a tie) chosen by exact subtraction (Sterbenz: both neighbours lie
/// within a factor of two of the value, so `x - lo` and `hi - x` are exact).
@Suite("FloatConversion: from Double, rounded once")
struct FloatConversionDoubleTests {
    enum Format: CaseIterable { case bf16, f16 }

    static func value(_ bits: UInt16, _ format: Format) -> Double {
        switch format {
        case .bf16: Double(FloatConversion.float(bf16Bits: bits))
        case .f16: Double(FloatConversion.float(f16Bits: bits))
        }
    }

    static func largestFinite(_ format: Format) -> UInt16 { format == .bf16 ? 0x7F7F : 0x7BFF }

    /// Round-to-nearest-even of a positive finite `x` no larger than the largest finite value.
    static func oracle(_ x: Double, _ format: Format) -> UInt16 {
        var (low, high) = (UInt16(0), largestFinite(format))   // value(low) ≤ x; find the last such pattern
        while low < high {
            let mid = low + (high - low + 1) / 2
            if value(mid, format) <= x { low = mid } else { high = mid - 1 }
        }
        guard value(low, format) != x, low < largestFinite(format) else { return low }
        let (below, above) = (x - value(low, format), value(low + 1, format) - x)
        if below < above { return low }
        if above < below { return low + 1 }
        return low & 1 == 0 ? low : low + 1
    }

    static func rounded(_ x: Double, _ format: Format) -> UInt16 {
        format == .bf16 ? FloatConversion.bf16Bits(x) : FloatConversion.f16Bits(x)
    }

    @Test(arguments: Format.allCases)
    func justBelowATieRoundsDown(format: Format) {
        // 1 + half an ulp of the format, less a hair: rounding to binary32 first lands on the tie
        // itself and ties-to-even then goes up (for bf16's 1.0 the even neighbour is 1.0, so take 1 + ulp).
        let ulp = format == .bf16 ? 1.0 / 128 : 1.0 / 1024
        let low = 1.0 + ulp                                  // odd pattern: a tie above it rounds up to even
        let tie = low + ulp / 2
        let hair = tie.ulp * 4                               // far below binary32's resolution
        #expect(Self.rounded(tie - hair, format) == Self.oracle(tie - hair, format))
        #expect(Self.value(Self.rounded(tie - hair, format), format) == low, "just below the tie: down")
        #expect(Self.value(Self.rounded(tie + hair, format), format) == low + ulp, "just above: up")
        #expect(Self.value(Self.rounded(tie, format), format) == low + ulp, "the tie itself: to even")
        // The trap this guards against: through a rounded Float, the value below the tie goes up.
        let twice = format == .bf16 ? FloatConversion.bf16Bits(Float(tie - hair)) : FloatConversion.f16Bits(Float(tie - hair))
        #expect(Self.value(twice, format) == low + ulp, "rounding twice would have gone up")
    }

    @Test(arguments: Format.allCases)
    func matchesTheOracleNearTiesAndAnywhere(format: Format) {
        var random = SeededRandom(seed: 12)
        let top = Self.largestFinite(format)
        for _ in 0..<20_000 {
            let k = UInt16(random.next() % UInt64(top - 1)) + 1
            let (a, b) = (Self.value(k, format), Self.value(k + 1, format))
            let tie = a + (b - a) / 2
            let offset = Double(Int64(random.next() % 2001) - 1000) * tie.ulp * Double(1 << (random.next() % 40))
            for x in [tie, tie + offset, a + (b - a) * Double(random.next() % 1000) / 1000] where x > 0 && x <= Self.value(top, format) {
                let got = Self.rounded(x, format)
                let want = Self.oracle(x, format)
                #expect(got == want, "\(x): got \(String(got, radix: 16)), oracle \(String(want, radix: 16))")
                #expect(Self.rounded(-x, format) == want | 0x8000, "sign symmetric")
                if got != want { return }
            }
        }
    }

    @Test(arguments: Format.allCases)
    func specialsAndOverflow(format: Format) {
        #expect(Self.rounded(0, format) == 0)
        #expect(Self.rounded(-0.0, format) == 0x8000)
        #expect(Self.value(Self.rounded(.infinity, format), format) == .infinity)
        #expect(Self.value(Self.rounded(-.infinity, format), format) == -.infinity)
        #expect(Self.value(Self.rounded(.nan, format), format).isNaN)
        #expect(Self.value(Self.rounded(1e300, format), format) == .infinity)
        #expect(Self.rounded(1e-300, format) == 0, "far below the smallest subnormal: zero")
        #expect(Self.rounded(-1e-300, format) == 0x8000)
    }

    @Test func encodeAndDecodeRoundTripEveryDType() {
        let values: [Double] = [0, 1, -2.5, 0.1, 65504, 1e-3]
        for dtype in [DType.f32, .f16, .bf16] {
            var bytes = [UInt8](repeating: 0, count: values.count * dtype.byteWidth)
            values.withUnsafeBufferPointer { v in bytes.withUnsafeMutableBytes { FloatConversion.encode(v, as: dtype, into: $0.baseAddress!) } }
            var back = [Double](repeating: .nan, count: values.count)
            bytes.withUnsafeBytes { raw in back.withUnsafeMutableBufferPointer { FloatConversion.decodeDoubles(raw, as: dtype, into: $0) } }
            // Each value rounded once to the dtype: the same as the Float path for these (no near-ties).
            let viaFloat = FloatConversion.decode(UnsafeRawBufferPointer(start: bytes, count: bytes.count), as: dtype).map(Double.init)
            #expect(back == viaFloat, "\(dtype)")
            #expect(back[1] == 1 && back[2] == -2.5)
        }
    }
}
