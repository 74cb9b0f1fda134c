/// An out×in matrix known only through products, so randomized SVD can run on `s·B·A`
/// without forming it, or on a dense update.
enum LinearOperator {
    /// `scale · B · A` with both factors in memory.
    case factored(a: Matrix<Double>, b: Matrix<Double>, scale: Double)
    case dense(Matrix<Double>)

    var rows: Int {
        switch self {
        case let .factored(_, b, _): b.rows
        case let .dense(m): m.rows
        }
    }

    var columns: Int {
        switch self {
        case let .factored(a, _, _): a.columns
        case let .dense(m): m.columns
        }
    }

    /// `X · m` (m is in×k).
    func apply(_ m: Matrix<Double>) throws(LinearAlgebraError) -> Matrix<Double> {
        switch self {
        case let .factored(a, b, scale):
            try BLAS.multiply(b, try BLAS.multiply(a, m), alpha: scale)
        case let .dense(x):
            try BLAS.multiply(x, m)
        }
    }

    /// `Xᵀ · m` (m is out×k).
    func applyTransposed(_ m: Matrix<Double>) throws(LinearAlgebraError) -> Matrix<Double> {
        switch self {
        case let .factored(a, b, scale):
            try BLAS.multiply(a, transposeA: true, try BLAS.multiply(b, transposeA: true, m), alpha: scale)
        case let .dense(x):
            try BLAS.multiply(x, transposeA: true, m)
        }
    }
}
