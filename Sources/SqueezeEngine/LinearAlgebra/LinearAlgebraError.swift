/// Failures of the BLAS/LAPACK layer. LAPACK's `info < 0` (a bad argument: a bug on our side)
/// and `info > 0` (the algorithm did not converge) stay distinct: they call for different fixes.
public enum LinearAlgebraError: Error, Equatable, CustomStringConvertible {
    /// Operand shapes that cannot be combined.
    case shapeMismatch(operation: String, detail: String)
    /// A dimension that does not fit the C integer BLAS/LAPACK take.
    case dimensionTooLarge(operation: String, value: Int)
    /// LAPACK reported an illegal value in argument `position` (`info < 0`).
    case illegalArgument(routine: String, position: Int)
    /// LAPACK's iteration failed to converge (`info > 0`).
    case notConverged(routine: String, info: Int)

    public var description: String {
        switch self {
        case let .shapeMismatch(operation, detail):
            "\(operation): \(detail)"
        case let .dimensionTooLarge(operation, value):
            "\(operation): dimension \(value) does not fit the BLAS/LAPACK integer type"
        case let .illegalArgument(routine, position):
            "\(routine): argument \(position) had an illegal value (an internal error; please report it)"
        case let .notConverged(routine, info):
            "\(routine): did not converge (info = \(info)); the input is likely ill-conditioned or not finite"
        }
    }
}
