extension SQLiteDatabase {
    /// Settings applied when the database is opened.
    public struct Configuration: Sendable, Equatable {
        /// How long a statement waits for another connection's lock (another process, or a second
        /// `SQLiteDatabase` on the same file) before failing with `SQLITE_BUSY`. 0 fails at once.
        /// At most `maxBusyTimeout`; SQLite takes whole milliseconds, so finer parts are dropped.
        public var busyTimeout: Duration

        /// The largest busy timeout SQLite accepts: `Int32.max` milliseconds (about 24.8 days).
        public static let maxBusyTimeout: Duration = .milliseconds(Int64(Int32.max))

        public init(busyTimeout: Duration = .seconds(5)) {
            self.busyTimeout = busyTimeout
        }

        /// `busyTimeout` in SQLite's whole milliseconds, or a typed error outside 0...max.
        func busyTimeoutMilliseconds() throws(SQLiteError) -> Int32 {
            let (seconds, attoseconds) = busyTimeout.components
            let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            let milliseconds = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
            guard busyTimeout >= .zero, !overflow, !milliseconds.overflow, milliseconds.partialValue >= 0,
                  let exact = Int32(exactly: milliseconds.partialValue) else {
                throw .invalidConfiguration("busyTimeout \(busyTimeout) is outside 0...\(Self.maxBusyTimeout)")
            }
            return exact
        }
    }
}
