import HTTPServer
import Logging

extension AdapterService {
    /// Starts the HTTP server on the configured address (port 0 picks a free one) and resumes any
    /// normalize jobs a previous run left unfinished. Returns the bound address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        guard let port = UInt16(exactly: configuration.port) else {
            throw ServiceError.badRequest("port \(configuration.port) is outside 0...65535")
        }
        var limits = configuration.http
        // The upload route's own limit must not be cut short by the parser's global one.
        limits.maxBodyBytes = max(limits.maxBodyBytes, configuration.limits.maxUploadBytes)
        let http = HTTPServer(configuration: .init(address: SocketAddress(host: configuration.host, port: port),
                                                   limits: limits),
                              handler: makeHandler(), logger: logger)
        let address = try http.start()
        server.withLock { $0 = http }
        try await resumeJobs()
        return address
    }

    /// Graceful shutdown: readyz turns 503, the server stops accepting, in-flight requests get
    /// `shutdownGrace` to finish, idle connections close; then the catalog closes.
    public func stop() async {
        beginDraining()
        if let http = server.withLock({ $0 }) { await http.shutdown(deadline: configuration.shutdownGrace) }
        close()
    }
}
