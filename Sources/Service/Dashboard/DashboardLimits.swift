/// The dashboard's bounds, named so tests hold them at their edges.
struct DashboardLimits: Sendable {
    /// How long a sign-in lasts (never past its token's own expiry).
    var sessionLifetime: Duration = .seconds(12 * 3600)
    /// How long a session read from the catalog is trusted before it is read again: the time a
    /// sign-out or revocation on another replica takes to be seen here (as `AuthLimits.recordTTL`).
    var sessionTTL: Duration = .seconds(5)
    /// Sessions held in memory at once (the cache is emptied when it is full).
    var maxCachedSessions = 10_000
    /// Rows on a page of a listing.
    var pageSize = 50
    /// Adapters whose spectra a normalize preview reads at most (the job itself takes up to
    /// `ServiceLimits.maxJobAdapters`); past it the preview says it is a sample.
    var previewAdapters = 500
    /// Bytes a dashboard form body may have.
    var maxFormBytes = 16 << 10
}
