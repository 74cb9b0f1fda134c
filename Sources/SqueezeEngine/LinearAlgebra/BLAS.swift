import CBLAS

/// Typed, shape-checked wrappers over the few CBLAS routines the engine needs.
/// Every `Int` becomes the C integer through `init(exactly:)`, throwing instead of trapping.
enum BLAS {
    static func int(_ value: Int, _ operation: String) throws(LinearAlgebraError) -> cblas_int {
        guard let v = cblas_int(exactly: value) else { throw .dimensionTooLarge(operation: operation, value: value) }
        return v
    }

    /// `op(a) · op(b) · alpha` in double precision, shapes checked.
    static func multiply(_ a: Matrix<Double>, transposeA: Bool = false,
                         _ b: Matrix<Double>, transposeB: Bool = false,
                         alpha: Double = 1) throws(LinearAlgebraError) -> Matrix<Double> {
        let (m, k) = transposeA ? (a.columns, a.rows) : (a.rows, a.columns)
        let (kb, n) = transposeB ? (b.columns, b.rows) : (b.rows, b.columns)
        guard k == kb else {
            throw .shapeMismatch(operation: "dgemm", detail: "inner dimensions \(k) and \(kb) differ")
        }
        var c = Matrix<Double>(zeros: m, n)
        if m == 0 || n == 0 || k == 0 { return c }
        try a.storage.withUnsafeBufferPointer { (pa) throws(LinearAlgebraError) in
            try b.storage.withUnsafeBufferPointer { (pb) throws(LinearAlgebraError) in
                try c.storage.withUnsafeMutableBufferPointer { (pc) throws(LinearAlgebraError) in
                    try gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                             a: pa.baseAddress!, lda: max(a.columns, 1), b: pb.baseAddress!, ldb: max(b.columns, 1),
                             beta: 0, c: pc.baseAddress!, ldc: n)
                }
            }
        }
        return c
    }

    /// `C ← alpha·op(A)·op(B) + beta·C` on raw row-major buffers (the panel loops' building block).
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                     a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                     beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) throws(LinearAlgebraError) {
        if m == 0 || n == 0 { return }
        let dims = (try int(m, "dgemm"), try int(n, "dgemm"), try int(k, "dgemm"))
        let lds = (try int(lda, "dgemm"), try int(ldb, "dgemm"), try int(ldc, "dgemm"))
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    dims.0, dims.1, dims.2, alpha, a, lds.0, b, lds.1, beta, c, lds.2)
    }
}

extension BLAS {
    /// `C ← alpha·op(A)·op(A)ᵀ + beta·C`, upper triangle only (`transpose`: op(A) = Aᵀ).
    static func syrk(transpose: Bool, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
                     beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) throws(LinearAlgebraError) {
        if n == 0 { return }
        let (cn, ck) = (try int(n, "dsyrk"), try int(k, "dsyrk"))
        let (la, lc) = (try int(lda, "dsyrk"), try int(ldc, "dsyrk"))
        cblas_dsyrk(CblasRowMajor, CblasUpper, transpose ? CblasTrans : CblasNoTrans, cn, ck, alpha, a, la, beta, c, lc)
    }
}
