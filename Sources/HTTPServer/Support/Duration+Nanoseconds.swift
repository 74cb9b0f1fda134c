extension Duration {
    /// Whole nanoseconds, with negative durations as 0 and ones past `UInt64.max` nanoseconds (about
    /// 584 years) as `UInt64.max`: a timeout from a setting never traps or wraps into the past.
    var saturatingNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let (total, carry) = whole.addingReportingOverflow(UInt64(max(0, attoseconds / 1_000_000_000)))
        return carry ? .max : total
    }
}
