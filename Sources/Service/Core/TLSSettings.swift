/// `serve --tls-cert FILE --tls-key FILE [--tls-port N] [--tls-ktls on]`: PEM certificate chain and key, and the port
/// that speaks HTTPS. Without a port of its own, the main port speaks it.
public struct TLSSettings: Sendable, Equatable {
    public var certificatePath: String
    public var keyPath: String
    /// A second listener for HTTPS beside the plain `port` (probes often stay plain inside a cluster).
    public var port: Int?
    /// `--tls-ktls on`: ask OpenSSL for kernel TLS (see `TLSContext.kernelTLS`).
    public var kernelTLS: Bool

    public init(certificatePath: String, keyPath: String, port: Int? = nil, kernelTLS: Bool = false) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.port = port
        self.kernelTLS = kernelTLS
    }
}
