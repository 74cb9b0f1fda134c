@testable import SqueezeEngine
import TestSupport

/// An independent check of a squeeze: the dense update formed by plain loops in Double (no BLAS),
/// its singular values from a dense LAPACK SVD (`dgesdd` on the formed matrix, a different path
/// from the engine's Gram/eigen route), and the actual error of the squeezed factors.
struct DenseReference {
    let rows: Int
    let columns: Int
    let delta: [Double]          // row-major out×in
    let singularValues: [Double]

    init(a: [Float], b: [Float], rank r: Int, out: Int, in inF: Int, scale: Double) throws {
        rows = out
        columns = inF
        var d = [Double](repeating: 0, count: out * inF)
        for i in 0..<out {
            for k in 0..<r {
                let bik = Double(b[i * r + k]) * scale
                if bik == 0 { continue }
                for j in 0..<inF { d[i * inF + j] += bik * Double(a[k * inF + j]) }
            }
        }
        delta = d
        let m = try Matrix<Double>(rows: out, columns: inF, storage: d)
        singularValues = try LAPACK.svd(m).s
    }

    var norm: Double { singularValues.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// Eckart–Young: the least Frobenius error of any rank-t approximation.
    func optimalError(rank t: Int) -> Double {
        singularValues.dropFirst(t).reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    /// ‖ΔW − B'A'‖_F for factors `a` (t×in) and `b` (out×t), computed in Double by loops.
    func error(a: Matrix<Float>, b: Matrix<Float>) -> Double {
        let t = a.rows
        var sum = 0.0
        for i in 0..<rows {
            for j in 0..<columns {
                var y = 0.0
                for k in 0..<t { y += Double(b[i, k]) * Double(a[k, j]) }
                let e = delta[i * columns + j] - y
                sum += e * e
            }
        }
        return sum.squareRoot()
    }
}
