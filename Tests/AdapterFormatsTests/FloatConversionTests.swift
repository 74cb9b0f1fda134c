import Testing
@testable import AdapterFormats

@Suite("FloatConversion: bfloat16")
struct BFloat16ConversionTests {
    /// Known answers: (binary32 bits, expected bfloat16 bits under round-to-nearest-even).
    static let encodeCases: [(UInt32, UInt16)] = [
        (0x3F80_0000, 0x3F80),                  // 1.0 exactly
        (0x3F80_8000, 0x3F80),                  // tie, kept bit even: stays
        (0x3F81_8000, 0x3F82),                  // tie, kept bit odd: rounds up to even
        (0x3F80_8001, 0x3F81),                  // just above the tie: up
        (0x3F80_7FFF, 0x3F80),                  // just below the tie: down
        (0xBF81_8000, 0xBF82),                  // ties are symmetric in sign
        (0x0000_0000, 0x0000),                  // +0
        (0x8000_0000, 0x8000),                  // -0
        (0x7F80_0000, 0x7F80),                  // +Inf
        (0xFF80_0000, 0xFF80),                  // -Inf
        (0x7F7F_7FFF, 0x7F7F),                  // rounds down to the largest finite bfloat16
        (0x7F7F_8000, 0x7F80),                  // tie above the largest finite (odd): overflows to Inf
        (0x7F7F_FFFF, 0x7F80),                  // Float.greatestFiniteMagnitude: Inf
        (0xFF7F_FFFF, 0xFF80),                  // and its negative: -Inf
        (0x0001_0000, 0x0001),                  // subnormal, exact
        (0x0000_8000, 0x0000),                  // subnormal tie to even zero
        (0x0001_8000, 0x0002),                  // subnormal tie to even two
    ]

    @Test(arguments: encodeCases)
    func roundsToNearestEven(input: UInt32, expected: UInt16) {
        #expect(FloatConversion.bf16Bits(Float(bitPattern: input)) == expected)
    }

    @Test(arguments: [UInt32(0x7FC0_0000), 0xFFC0_0000, 0x7F80_0001, 0xFF80_0001, 0x7FA0_0000, 0x7F80_FFFF])
    func nanStaysNaN(input: UInt32) {
        // 0x7F800001 truncated would be 0x7F80, which is Inf: the quiet bit prevents that.
        let bits = FloatConversion.bf16Bits(Float(bitPattern: input))
        #expect(FloatConversion.float(bf16Bits: bits).isNaN)
        #expect(bits & 0x8000 == UInt16(input >> 16) & 0x8000, "sign kept")
    }

    @Test func largestFiniteDecodes() {
        #expect(FloatConversion.float(bf16Bits: 0x7F7F) == Float(bitPattern: 0x7F7F_0000))
        #expect(FloatConversion.float(bf16Bits: 0x7F7F).isFinite)
        #expect(FloatConversion.float(bf16Bits: 0x0001) == Float(bitPattern: 0x0001_0000))
    }

    @Test func allBitPatternsRoundTrip() {
        for bits in UInt16.min...UInt16.max {
            let value = FloatConversion.float(bf16Bits: bits)
            let back = FloatConversion.bf16Bits(value)
            if value.isNaN {
                #expect(FloatConversion.float(bf16Bits: back).isNaN, "bf16 0x\(String(bits, radix: 16)) must stay NaN")
            } else if back != bits {
                Issue.record("bf16 0x\(String(bits, radix: 16)) came back as 0x\(String(back, radix: 16))")
            }
        }
    }

    /// Against an independent rounding: pick the nearer of the two bfloat16 neighbours in
    /// Double arithmetic (exact for these magnitudes), ties to the even one; a value that
    /// rounds past the largest finite bfloat16 becomes Inf (its "neighbour" is 2^128).
    @Test func matchesIndependentRoundingOnPseudoRandomInputs() {
        var generator = SplitMix64(seed: 0xB_F16)
        for _ in 0..<200_000 {
            let bits = UInt32(truncatingIfNeeded: generator.next())
            let x = Float(bitPattern: bits)
            guard x.isFinite else { continue }
            let below = bits & 0xFFFF_0000                  // toward zero
            let above = below &+ 0x1_0000                   // away from zero (may be the Inf pattern)
            let belowValue = Double(Float(bitPattern: below))
            let aboveValue = (above & 0x7FFF_FFFF) == 0x7F80_0000
                ? (x < 0 ? -0x1p128 : 0x1p128)
                : Double(Float(bitPattern: above))
            let distanceBelow = abs(Double(x) - belowValue)
            let distanceAbove = abs(Double(x) - aboveValue)
            let expected: UInt32 = distanceBelow < distanceAbove ? below
                : distanceAbove < distanceBelow ? above
                : ((below >> 16) & 1 == 0 ? below : above)
            let got = FloatConversion.bf16Bits(x)
            if got != UInt16(expected >> 16) {
                Issue.record("0x\(String(bits, radix: 16)): got 0x\(String(got, radix: 16)), expected 0x\(String(expected >> 16, radix: 16))")
                return
            }
        }
    }
}

@Suite("FloatConversion: IEEE binary16")
struct Float16ConversionTests {
    /// Known answers: (value, expected binary16 bits under round-to-nearest-even).
    static let encodeCases: [(Float, UInt16)] = [
        (1.0, 0x3C00),
        (-2.0, 0xC000),
        (0.0, 0x0000),
        (-0.0, 0x8000),
        (0.1, 0x2E66),                           // 0.0999755859375, the nearest binary16
        (65504, 0x7BFF),                         // largest finite
        (65519, 0x7BFF),                         // below the tie: stays finite
        (65520, 0x7C00),                         // tie above 65504 (odd mantissa): Inf
        (65536, 0x7C00),                         // overflow
        (1e10, 0x7C00),
        (-1e10, 0xFC00),
        (Float.greatestFiniteMagnitude, 0x7C00),
        (.infinity, 0x7C00),
        (-.infinity, 0xFC00),
        (0x1p-14, 0x0400),                       // smallest normal
        (0x1p-24, 0x0001),                       // smallest subnormal
        (0x1p-25, 0x0000),                       // tie between 0 and 2^-24: even is 0
        (0x1.000002p-25, 0x0001),                // just above that tie
        (-0x1p-25, 0x8000),                      // ... and keeps its sign
        (0x1.8p-24, 0x0002),                     // 1.5 × 2^-24: tie, even is 2
        (0x1.4p-23, 0x0002),                     // 2.5 × 2^-24: tie, even is 2
        (0x3FFp-24, 0x03FF),                     // largest subnormal
        (0x3FF.8p-24, 0x0400),                   // tie between it and the smallest normal: even (0x400)
        (0x1p-30, 0x0000),                       // far below: zero
        (Float.leastNonzeroMagnitude, 0x0000),   // binary32 subnormal: zero
        (0x1.002p0, 0x3C00),                     // 1 + 2^-11, a tie, kept bit even: stays
        (0x1.006p0, 0x3C02),                     // 1 + 3 × 2^-11, a tie, kept bit odd: up to even
        (0x1.00201p0, 0x3C01),                   // 1 + 2^-11 + 2^-20, just above a tie: up
    ]

    @Test(arguments: encodeCases)
    func roundsToNearestEven(value: Float, expected: UInt16) {
        #expect(FloatConversion.f16Bits(value) == expected)
    }

    static let decodeCases: [(UInt16, Float)] = [
        (0x0001, 0x1p-24),
        (0x03FF, 0x3FFp-24),
        (0x0400, 0x1p-14),
        (0x3C00, 1),
        (0x7BFF, 65504),
        (0xFBFF, -65504),
        (0x7C00, .infinity),
        (0xFC00, -.infinity),
        (0x8000, -0.0),
    ]

    @Test(arguments: decodeCases)
    func decodesKnownValues(bits: UInt16, expected: Float) {
        let value = FloatConversion.float(f16Bits: bits)
        #expect(value == expected)
        #expect(value.sign == expected.sign)
    }

    @Test(arguments: [UInt32(0x7FC0_0000), 0xFFC0_0000, 0x7F80_0001, 0x7F80_1FFF, 0xFFBF_FFFF])
    func nanStaysNaN(input: UInt32) {
        // 0x7F800001 has no payload in the top 10 mantissa bits: without the quiet bit it would become Inf.
        let bits = FloatConversion.f16Bits(Float(bitPattern: input))
        #expect(FloatConversion.float(f16Bits: bits).isNaN)
        #expect(bits & 0x8000 == UInt16(input >> 16) & 0x8000, "sign kept")
    }

    @Test func allBitPatternsRoundTrip() {
        for bits in UInt16.min...UInt16.max {
            let value = FloatConversion.float(f16Bits: bits)
            let back = FloatConversion.f16Bits(value)
            if value.isNaN {
                #expect(FloatConversion.float(f16Bits: back).isNaN, "f16 0x\(String(bits, radix: 16)) must stay NaN")
            } else if back != bits {
                Issue.record("f16 0x\(String(bits, radix: 16)) came back as 0x\(String(back, radix: 16))")
            }
        }
    }

    #if !(os(macOS) && arch(x86_64))
    /// The platform's Float16 (hardware or compiler-rt conversion) as an independent reference.
    @Test func matchesPlatformFloat16() {
        for bits in UInt16.min...UInt16.max {
            let platform = Float(Float16(bitPattern: bits))
            let ours = FloatConversion.float(f16Bits: bits)
            if platform.isNaN ? !ours.isNaN : platform.bitPattern != ours.bitPattern {
                Issue.record("decode 0x\(String(bits, radix: 16)): \(ours) vs platform \(platform)")
                return
            }
        }
        var generator = SplitMix64(seed: 0xF16)
        for _ in 0..<200_000 {
            // Bias toward the binary16 range so subnormal, normal and overflow paths all get hits.
            let raw = UInt32(truncatingIfNeeded: generator.next())
            let bits = (raw & 0x8000_0000) | (0x3000_0000 + (raw & 0x7FFF_FFFF) % 0x1800_0000)
            let x = Float(bitPattern: bits)
            let expected = Float16(x).bitPattern
            let got = FloatConversion.f16Bits(x)
            if got != expected {
                Issue.record("encode 0x\(String(bits, radix: 16)): 0x\(String(got, radix: 16)) vs platform 0x\(String(expected, radix: 16))")
                return
            }
        }
    }
    #endif
}

/// A small deterministic generator (SplitMix64) so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
