import CLAPACKE

/// Typed, shape-checked wrappers over the LAPACK routines the engine needs (row-major throughout).
/// `info < 0` and `info > 0` map to distinct errors; no result is ever ignored.
enum LAPACK {
    static func int(_ value: Int, _ routine: String) throws(LinearAlgebraError) -> clapack_int {
        guard let v = clapack_int(exactly: value) else { throw .dimensionTooLarge(operation: routine, value: value) }
        return v
    }

    static func check(_ info: clapack_int, _ routine: String) throws(LinearAlgebraError) {
        if info < 0 { throw .illegalArgument(routine: routine, position: Int(-info)) }
        if info > 0 { throw .notConverged(routine: routine, info: Int(info)) }
    }

    static func char(_ c: Unicode.Scalar) -> CChar { CChar(UInt8(ascii: c)) }

    /// Eigen-decomposition of a symmetric matrix: eigenvalues in ascending order and the
    /// eigenvectors as the columns of `vectors` (`dsyevd`, divide and conquer).
    static func symmetricEigen(_ m: Matrix<Double>) throws(LinearAlgebraError) -> (values: [Double], vectors: Matrix<Double>) {
        guard m.rows == m.columns else {
            throw .shapeMismatch(operation: "dsyevd", detail: "matrix is \(m.rows)×\(m.columns), not square")
        }
        let n = m.rows
        if n == 0 { return ([], m) }
        var a = m.storage
        var w = [Double](repeating: 0, count: n)
        let cn = try int(n, "dsyevd")
        let info = a.withUnsafeMutableBufferPointer { pa in
            w.withUnsafeMutableBufferPointer { pw in
                LAPACKE_dsyevd(LAPACK_ROW_MAJOR, char("V"), char("U"), cn, pa.baseAddress, cn, pw.baseAddress)
            }
        }
        try check(info, "dsyevd")
        return (w, Matrix(unchecked: n, n, a))
    }

    /// Thin SVD `m = u · diag(s) · vt` in double precision, singular values descending.
    /// `dgesdd` first; if it fails to converge, the slower but more robust `dgesvd`.
    static func svd(_ m: Matrix<Double>) throws(LinearAlgebraError) -> (u: Matrix<Double>, s: [Double], vt: Matrix<Double>) {
        let (rows, cols) = (m.rows, m.columns)
        let k = min(rows, cols)
        if k == 0 { return (Matrix(zeros: rows, 0), [], Matrix(zeros: 0, cols)) }
        let (cm, cn, ck) = (try int(rows, "dgesdd"), try int(cols, "dgesdd"), try int(k, "dgesdd"))
        var u = [Double](repeating: 0, count: rows * k)
        var vt = [Double](repeating: 0, count: k * cols)
        var s = [Double](repeating: 0, count: k)
        var a = m.storage
        let info = a.withUnsafeMutableBufferPointer { pa in
            s.withUnsafeMutableBufferPointer { ps in
                u.withUnsafeMutableBufferPointer { pu in
                    vt.withUnsafeMutableBufferPointer { pv in
                        LAPACKE_dgesdd(LAPACK_ROW_MAJOR, char("S"), cm, cn, pa.baseAddress, cn,
                                       ps.baseAddress, pu.baseAddress, ck, pv.baseAddress, cn)
                    }
                }
            }
        }
        if info > 0 {
            return try svdFallback(m)
        }
        try check(info, "dgesdd")
        return (Matrix(unchecked: rows, k, u), s, Matrix(unchecked: k, cols, vt))
    }

    private static func svdFallback(_ m: Matrix<Double>) throws(LinearAlgebraError) -> (u: Matrix<Double>, s: [Double], vt: Matrix<Double>) {
        let (rows, cols) = (m.rows, m.columns)
        let k = min(rows, cols)
        let (cm, cn, ck) = (try int(rows, "dgesvd"), try int(cols, "dgesvd"), try int(k, "dgesvd"))
        var u = [Double](repeating: 0, count: rows * k)
        var vt = [Double](repeating: 0, count: k * cols)
        var s = [Double](repeating: 0, count: k)
        var superb = [Double](repeating: 0, count: max(k - 1, 1))
        var a = m.storage
        let info = a.withUnsafeMutableBufferPointer { pa in
            s.withUnsafeMutableBufferPointer { ps in
                u.withUnsafeMutableBufferPointer { pu in
                    vt.withUnsafeMutableBufferPointer { pv in
                        superb.withUnsafeMutableBufferPointer { pw in
                            LAPACKE_dgesvd(LAPACK_ROW_MAJOR, char("S"), char("S"), cm, cn, pa.baseAddress, cn,
                                           ps.baseAddress, pu.baseAddress, ck, pv.baseAddress, cn, pw.baseAddress)
                        }
                    }
                }
            }
        }
        try check(info, "dgesvd")
        return (Matrix(unchecked: rows, k, u), s, Matrix(unchecked: k, cols, vt))
    }

    /// An orthonormal basis of the column space of a tall matrix (`m.rows >= m.columns`),
    /// by Householder QR (`dgeqrf` then `dorgqr`): the explicit Q, same shape as `m`.
    static func orthonormalColumns(_ m: Matrix<Double>) throws(LinearAlgebraError) -> Matrix<Double> {
        let (rows, cols) = (m.rows, m.columns)
        guard rows >= cols else {
            throw .shapeMismatch(operation: "dgeqrf", detail: "\(rows)×\(cols) has more columns than rows")
        }
        if cols == 0 { return m }
        let (cm, cn) = (try int(rows, "dgeqrf"), try int(cols, "dgeqrf"))
        var a = m.storage
        var tau = [Double](repeating: 0, count: cols)
        let info = a.withUnsafeMutableBufferPointer { pa in
            tau.withUnsafeMutableBufferPointer { pt in
                LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, cm, cn, pa.baseAddress, cn, pt.baseAddress)
            }
        }
        try check(info, "dgeqrf")
        let info2 = a.withUnsafeMutableBufferPointer { pa in
            tau.withUnsafeMutableBufferPointer { pt in
                LAPACKE_dorgqr(LAPACK_ROW_MAJOR, cm, cn, cn, pa.baseAddress, cn, pt.baseAddress)
            }
        }
        try check(info2, "dorgqr")
        return Matrix(unchecked: rows, cols, a)
    }

    /// Cholesky `g = Rᵀ·R` with R upper triangular (`dpotrf`), or nil when `g` is not numerically
    /// positive definite (`info > 0`, the caller falls back to an eigen-decomposition).
    static func cholesky(_ g: Matrix<Double>) throws(LinearAlgebraError) -> Matrix<Double>? {
        let n = g.rows
        guard n == g.columns else { throw .shapeMismatch(operation: "dpotrf", detail: "matrix is \(n)×\(g.columns), not square") }
        if n == 0 { return g }
        var a = g.storage
        let cn = try int(n, "dpotrf")
        let info = a.withUnsafeMutableBufferPointer { LAPACKE_dpotrf(LAPACK_ROW_MAJOR, char("U"), cn, $0.baseAddress, cn) }
        if info > 0 { return nil }
        try check(info, "dpotrf")
        for i in 0..<n { for j in 0..<i { a[i * n + j] = 0 } }  // dpotrf leaves the lower triangle as it was
        return Matrix(unchecked: n, n, a)
    }

    /// The reciprocal 1-norm condition number estimate of an upper-triangular matrix (`dtrcon`).
    static func triangularReciprocalCondition(_ r: Matrix<Double>) throws(LinearAlgebraError) -> Double {
        let n = r.rows
        if n == 0 { return 1 }
        let cn = try int(n, "dtrcon")
        var rcond = 0.0
        let info = r.storage.withUnsafeBufferPointer {
            LAPACKE_dtrcon(LAPACK_ROW_MAJOR, char("1"), char("U"), char("N"), cn, $0.baseAddress, cn, &rcond)
        }
        try check(info, "dtrcon")
        return rcond
    }

    /// The inverse of a nonsingular upper-triangular matrix (`dtrtri`).
    static func triangularInverse(_ r: Matrix<Double>) throws(LinearAlgebraError) -> Matrix<Double> {
        let n = r.rows
        if n == 0 { return r }
        var a = r.storage
        let cn = try int(n, "dtrtri")
        let info = a.withUnsafeMutableBufferPointer { LAPACKE_dtrtri(LAPACK_ROW_MAJOR, char("U"), char("N"), cn, $0.baseAddress, cn) }
        try check(info, "dtrtri")
        return Matrix(unchecked: n, n, a)
    }
}
