/// A seeded source of standard normal samples, so randomized results reproduce exactly
/// across runs, machines and thread schedules (the generator is per module, never shared).
///
/// SplitMix64 for the bits (Steele, Lea & Flood 2014), Box–Muller for the normal pairs.
struct GaussianGenerator {
    private var state: UInt64
    private var spare: Double?

    init(seed: UInt64) { state = seed }

    mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so the logarithm below is finite.
    private mutating func nextUnit() -> Double {
        (Double(nextUInt64() >> 11) + 1) * 0x1p-53
    }

    mutating func next() -> Double {
        if let s = spare { spare = nil; return s }
        let u1 = nextUnit(), u2 = nextUnit()
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spare = radius * sin(angle)
        return radius * cos(angle)
    }

    /// A rows×columns matrix of independent standard normal samples.
    mutating func matrix(_ rows: Int, _ columns: Int) -> Matrix<Double> {
        var m = Matrix<Double>(zeros: rows, columns)
        for i in 0..<m.storage.count { m.storage[i] = next() }
        return m
    }

    /// FNV-1a of a string: mixes a module's name into the user's seed, so each module draws its own
    /// stream whatever order modules are scheduled in.
    static func mix(seed: UInt64, name: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return seed ^ h
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
