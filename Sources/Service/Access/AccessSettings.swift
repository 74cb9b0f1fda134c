/// How the service authenticates (`serve --auth`, `--metrics-auth`, `--admin-token-file`,
/// `--audit-retention`).
public struct AccessSettings: Sendable {
    /// Tokens required (the default). Off, everyone may do everything: for a trusted network only.
    public var enabled: Bool
    /// `/metrics` needs a `read` token.
    public var metricsNeedToken: Bool
    /// A token to install as an unlimited admin token at start-up (from a Kubernetes Secret, say)
    /// instead of creating one into `DATA/admin.token`.
    public var adminTokenSeed: String?
    /// Audit entries kept; older ones are pruned every minute.
    public var auditRetention: Int

    public init(enabled: Bool = true, metricsNeedToken: Bool = false, adminTokenSeed: String? = nil,
                auditRetention: Int = 100_000) {
        self.enabled = enabled
        self.metricsNeedToken = metricsNeedToken
        self.adminTokenSeed = adminTokenSeed
        self.auditRetention = auditRetention
    }

    /// The file a created admin token is written to, inside the data directory.
    public static let adminTokenFileName = "admin.token"
}
