import Foundation
import HTTPServer
import Logging

extension AdapterService {
    /// Starts the HTTP server on the configured address (port 0 picks a free one), resumes any
    /// normalize jobs a previous run left unfinished, and starts the upkeep loop (cache hits written
    /// in batches, old jobs deleted, the background scrub). Returns the bound address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        guard let port = UInt16(exactly: configuration.port) else {
            throw ServiceError.badRequest("port \(configuration.port) is outside 0...65535")
        }
        let (settings, catalog, directory, logger) = (configuration.access, catalog, configuration.dataDirectory, logger)
        let banner = try await store.write { _ in
            try AdminTokenBootstrap.run(settings: settings, catalog: catalog, directory: directory, logger: logger)
        }
        accessBanner.withLock { $0 = banner }
        var limits = configuration.http
        // The upload route's own limit must not be cut short by the parser's global one.
        limits.maxBodyBytes = max(limits.maxBodyBytes, configuration.limits.maxUploadBytes)
        var tls: TLSContext?
        if let settings = configuration.tls {
            tls = try TLSContext(certificatePath: settings.certificatePath, keyPath: settings.keyPath,
                                 kernelTLS: settings.kernelTLS)
            if settings.kernelTLS {
                logger.info("kernel TLS requested", metadata: [
                    "tls-ulp-loaded": "\(TLSContext.kernelTLSModuleLoaded)",
                    "note": "connections the kernel does not take stay on user-space TLS; lora_squeeze_tls_kernel_connections_total counts those it takes",
                ])
            }
            tlsContext.withLock { $0 = tls }
        }
        let handler = makeHandler()
        // With a TLS port of its own, the main port stays plain; without one, the main port speaks TLS.
        let mainTLS = configuration.tls?.port == nil ? tls : nil
        let main = HTTPServer(configuration: .init(address: SocketAddress(host: configuration.host, port: port),
                                                   limits: limits, tls: mainTLS),
                              handler: handler, logger: logger)
        let address = try main.start()
        servers.withLock { $0 = [main] }
        if let tls, let tlsPortNumber = configuration.tls?.port {
            guard let tlsPort = UInt16(exactly: tlsPortNumber) else {
                throw ServiceError.badRequest("TLS port \(tlsPortNumber) is outside 0...65535")
            }
            let secure = HTTPServer(configuration: .init(address: SocketAddress(host: configuration.host, port: tlsPort),
                                                         limits: limits, tls: tls),
                                    handler: handler, logger: logger)
            let secureAddress = try secure.start()
            servers.withLock { $0.append(secure) }
            tlsAddressValue.withLock { $0 = secureAddress }
        } else if mainTLS != nil {
            tlsAddressValue.withLock { $0 = address }
        }
        // Claims this replica's previous life held (a restart under the same name) are free at once.
        let replica = configuration.replicaID
        try await store.write { try $0.releaseJobItems(owner: replica) }
        try await resumeJobs()
        startMaintenance()
        return address
    }

    /// Graceful shutdown, in the order Kubernetes needs:
    /// 1. `/readyz` answers 503 at once, and running jobs are told to stop at their next adapter;
    /// 2. for `drainDelay` the server keeps accepting and serving, so endpoints and load balancers
    ///    see the 503 and stop sending before any connection is refused;
    /// 3. the listener closes; in-flight requests get `shutdownGrace` to finish, idle connections close;
    /// 4. jobs stop at an adapter boundary (resumed at the next start), cancelled if the grace ends;
    /// 5. the upkeep loop and any scrub stop, the compute and I/O pools finish what they started;
    /// 6. the catalog closes last (pending cache hits written).
    public func stop() async {
        beginDraining()
        jobs.requestStop()
        let deadline = ContinuousClock.now + configuration.drainDelay + configuration.shutdownGrace
        if configuration.drainDelay > .zero {
            logger.info("draining: /readyz answers 503, still serving for \(configuration.drainDelay)")
            try? await Task.sleep(for: configuration.drainDelay)
        }
        let running = servers.withLock { $0 }
        await withTaskGroup(of: Void.self) { group in
            for http in running { group.addTask { await http.shutdown(deadline: self.configuration.shutdownGrace) } }
        }
        await jobs.stop(deadline: deadline)
        await stopMaintenance()
        await pool.waitIdle(until: deadline)
        await io.waitIdle(until: deadline)
        close()
        logger.info("stopped: catalog closed")
    }
}
