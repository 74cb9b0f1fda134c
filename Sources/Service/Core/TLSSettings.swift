/// `serve --tls-cert FILE --tls-key FILE [--tls-port N]`: PEM certificate chain and key, and the port
/// that speaks HTTPS. Without a port of its own, the main port speaks it.
public struct TLSSettings: Sendable, Equatable {
    public var certificatePath: String
    public var keyPath: String
    /// A second listener for HTTPS beside the plain `port` (probes often stay plain inside a cluster).
    public var port: Int?

    public init(certificatePath: String, keyPath: String, port: Int? = nil) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.port = port
    }
}
