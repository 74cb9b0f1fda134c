/// The bounds of authentication, named so tests hold them at their edges.
struct AuthLimits: Sendable {
    /// Failed authentications one remote address may make in a burst before it gets 429.
    var failureBurst = 20
    /// Failures the bucket earns back per second once spent.
    var failureRefillPerSecond = 1.0
    /// Remote addresses whose failures are tracked; past it, addresses whose buckets are full again
    /// are forgotten first.
    var maxTrackedAddresses = 65_536
    /// How long a token record read from the catalog is trusted before it is read again: the time a
    /// revocation made by another process (the CLI, another replica) takes to be seen here.
    var recordTTL: Duration = .seconds(5)
    /// Token records held in memory at once (the cache is emptied when it is full).
    var maxCachedTokens = 10_000
    /// A token that authenticated within this time passes even when its address is over its failure
    /// budget, so one misconfigured client behind a shared address cannot lock the fleet out; a
    /// guesser never holds such a token.
    var knownGoodPass: Duration = .seconds(600)
    /// The `Authorization` value read at most, in bytes (a token is 47; a longer value is refused unread).
    var maxCredentialBytes = 256
}
