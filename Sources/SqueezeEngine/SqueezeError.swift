/// Why one module cannot be squeezed. The adapter layer adds the module's name.
public enum SqueezeError: Error, Equatable, CustomStringConvertible {
    case rankMismatch(aRows: Int, bColumns: Int)
    case nonFinite(factor: String, index: Int)
    case invalidScale(Double)
    case invalidTargetRank(Int)
    case invalidEnergy(Double)
    case invalidRatio(Double)
    case invalidMaxRank(Int)
    case invalidOversample(Int)
    case invalidPowerIterations(Int)
    case projectionsNeedExact
    case linearAlgebra(LinearAlgebraError)

    public var description: String {
        switch self {
        case let .rankMismatch(aRows, bColumns):
            "lora_A has rank \(aRows) (rows) but lora_B has \(bColumns) columns; they must be equal"
        case let .nonFinite(factor, index):
            "\(factor) holds a NaN or infinite value at flat index \(index); refusing to squeeze it"
        case let .invalidScale(s):
            "scale \(s) is not a finite number"
        case let .invalidTargetRank(t):
            "target rank \(t) must be at least 1"
        case let .invalidEnergy(f):
            "energy fraction \(f) must be in (0, 1]"
        case let .invalidRatio(f):
            "singular-value ratio \(f) must be in (0, 1]"
        case let .invalidMaxRank(m):
            "max rank \(m) must be at least 1"
        case let .invalidOversample(p):
            "oversampling \(p) must be between 0 and \(RSVDOptions.maxOversample)"
        case let .invalidPowerIterations(q):
            "power iterations \(q) must be between 0 and \(RSVDOptions.maxPowerIterations)"
        case .projectionsNeedExact:
            "projections T_A, T_B are only computed by the exact method (use --method exact or auto)"
        case let .linearAlgebra(e):
            e.description
        }
    }
}
