import CBLAS

/// OpenBLAS's own thread pool. The engine parallelises over modules, one BLAS thread each,
/// so the two levels never oversubscribe the cores.
public enum BLASThreading {
    /// Sets the number of threads OpenBLAS uses for one call (process-wide).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(clamping: max(1, count)))
    }

    /// The number of threads OpenBLAS currently uses for one call.
    public static var threads: Int { Int(openblas_get_num_threads()) }
}
