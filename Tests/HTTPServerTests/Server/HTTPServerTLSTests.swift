import Foundation
import Testing
@testable import HTTPServer

/// HTTPS on the server's own I/O path, checked with clients that are not ours (curl, Python's ssl,
/// raw sockets) and certificates made at test time.
@Suite("Server: TLS", .serialized)
struct HTTPServerTLSTests {
    func withTLSServer<T: Sendable>(_ kit: TLSTestKit, context: TLSContext? = nil, router: HTTPRouter = testRouter(),
                                    _ body: (HTTPServer, Int) async throws -> T) async throws -> T {
        let configuration = HTTPServer.Configuration(address: .loopbackIPv4(port: 0), limits: testLimits(),
                                                     tls: try context ?? kit.context())
        let server = HTTPServer(configuration: configuration, handler: router, logger: testLogger())
        let bound = try server.start()
        do {
            let result = try await body(server, Int(bound.port))
            await server.shutdown(deadline: .seconds(2))
            return result
        } catch {
            await server.shutdown(deadline: .seconds(2))
            throw error
        }
    }

    @Test("curl verifies the chain and talks TLS 1.3 and 1.2 with keep-alive")
    func curl() async throws {
        let kit = try TLSTestKit()
        try await withTLSServer(kit) { _, port in
            let url = "https://127.0.0.1:\(port)/hello"
            let r13 = try await kit.command(["curl", "-sS", "--cacert", kit.ca, "--tlsv1.3", "-w", " %{num_connects}", url, url])
            #expect(r13.status == 0 && r13.output == "hello 1hello 0", "the second request reuses the connection: \(r13.output)")
            let r12 = try await kit.command(["curl", "-sS", "--cacert", kit.ca, "--tlsv1.2", "--tls-max", "1.2", url])
            #expect(r12.status == 0 && r12.output == "hello", "\(r12.output)")
            let untrusted = try await kit.command(["curl", "-sS", url])
            #expect(untrusted.status != 0, "a client without the CA refuses the certificate")
        }
    }

    @Test("Python's ssl: TLS 1.3, ALPN http/1.1, two requests on one connection; TLS 1.1 is refused")
    func python() async throws {
        let kit = try TLSTestKit()
        try await withTLSServer(kit) { _, port in
            let r = try await kit.command(["python3", kit.client, "get", "\(port)", kit.ca])
            #expect(r.output.contains("version TLSv1.3 alpn http/1.1 subject server"), "\(r.output)")
            #expect(r.output.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(r.output)")
            let old = try await kit.command(["python3", kit.client, "old", "\(port)", kit.ca])
            #expect(old.output.contains("refused") && !old.output.contains("connected"), "\(old.output)")
            #expect(try await kit.command(["python3", kit.client, "get", "\(port)", kit.ca]).output.contains("200 OK"), "still serving")
        }
    }

    @Test("plain HTTP on the TLS port gets a plain 400 and the connection closes")
    func plainHTTP() async throws {
        let kit = try TLSTestKit()
        try await withTLSServer(kit) { _, port in
            let response = try await roundTrip(.loopbackIPv4(port: UInt16(port)), "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(response.status == 400)
            #expect(response.text.contains("plain-http-on-tls-port"))
            #expect(response.headers["connection"] == "close")
        }
    }

    @Test("a stalled handshake is closed at the header timeout; clients that give up mid-handshake cost nothing")
    func stalledHandshakes() async throws {
        let kit = try TLSTestKit()
        try await withTLSServer(kit) { server, port in
            let address = SocketAddress.loopbackIPv4(port: UInt16(port))
            for prefix in [[UInt8](), [0x16, 0x03, 0x01, 0x00, 0xf0, 0x01]] {
                let closedAfter = try await blocking { () -> Double in
                    let client = try TestClient(address)
                    if !prefix.isEmpty { try client.send(prefix) }
                    let start = Date()
                    _ = client.waitForClose()
                    return Date().timeIntervalSince(start)
                }
                #expect(closedAfter >= 1.5 && closedAfter < 5, "closed after \(closedAfter) s (header timeout 2 s)")
            }
            try await blocking {
                for _ in 0..<20 {
                    let client = try TestClient(address)
                    try client.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
                    client.closeNow()
                }
            }
            #expect(try await kit.command(["curl", "-sS", "--cacert", kit.ca, "https://127.0.0.1:\(port)/hello"]).output == "hello")
            try await Task.sleep(for: .milliseconds(300))
            #expect(server.connectionCount == 0)
        }
    }

    @Test("a truncated record ends the connection, and the server goes on")
    func truncatedRecord() async throws {
        let kit = try TLSTestKit()
        try await withTLSServer(kit) { _, port in
            let r = try await kit.command(["python3", kit.client, "truncated", "\(port)", kit.ca])
            #expect(r.output.contains("after"), "\(r.output)")
            #expect(try await kit.command(["curl", "-sS", "--cacert", kit.ca, "https://127.0.0.1:\(port)/hello"]).output == "hello")
        }
    }

    @Test("malformed requests over TLS get the same answers as over plain HTTP")
    func malformed() async throws {
        let kit = try TLSTestKit()
        try await withTLSServer(kit) { _, port in
            for (raw, status) in [("GET /hello HTTP/1.1\\r\\nHost: a\\r\\nHost: b\\r\\n\\r\\n", "400"),
                                  ("GET /hello HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: 1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n", "400"),
                                  ("GET /hello HTTP/9.9\\r\\nHost: a\\r\\n\\r\\n", "505"),
                                  ("GET /nowhere HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n", "404")] {
                let r = try await kit.command(["python3", kit.client, "raw", "\(port)", kit.ca, raw])
                #expect(r.output.hasPrefix("HTTP/1.1 \(status)"), "\(raw): \(r.output)")
            }
        }
    }

    /// A file of `size` patterned bytes in the kit's directory, served at `/name` with ETag `"name"`.
    static func fileRoute(_ kit: TLSTestKit, _ name: String, size: Int) throws -> ([UInt8], HTTPRouter) {
        let path = kit.path("\(name).bin")
        var bytes = [UInt8](repeating: 0, count: size)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var router = HTTPRouter()
        router.add(.get, "/\(name)") { request in
            try HTTPResponse.file(path: path, contentType: "application/octet-stream", etag: "\"\(name)\"", request: request)
        }
        return (bytes, router)
    }

    @Test("a 3 MiB file over TLS: whole, a Range, and 304")
    func file() async throws {
        let kit = try TLSTestKit()
        let (bytes, router) = try Self.fileRoute(kit, "big", size: 3 << 20)
        try await withTLSServer(kit, router: router) { _, port in
            let url = "https://127.0.0.1:\(port)/big"
            let out = kit.path("out.bin")
            let whole = try await kit.command(["curl", "-sS", "--cacert", kit.ca, "-o", out, "-w", "%{http_code}", url])
            #expect(whole.output == "200" && (try? Data(contentsOf: URL(fileURLWithPath: out))) == Data(bytes))
            let part = try await kit.command(["curl", "-sS", "--cacert", kit.ca, "-r", "1000000-1000099", "-o", out, "-w", "%{http_code}", url])
            #expect(part.output == "206" && (try? Data(contentsOf: URL(fileURLWithPath: out))) == Data(bytes[1_000_000..<1_000_100]))
            let cached = try await kit.command(["curl", "-sS", "--cacert", kit.ca, "-H", "If-None-Match: \"big\"", "-o", "/dev/null", "-w", "%{http_code}", url])
            #expect(cached.output == "304")
        }
    }

    @Test("kernel TLS asked for: files arrive whole over TLS 1.3 and 1.2, and the kernel's choice is counted")
    func kernelTLS() async throws {
        let kit = try TLSTestKit()
        let (bytes, router) = try Self.fileRoute(kit, "k", size: 1 << 20)
        let context = try TLSContext(certificatePath: kit.cert, keyPath: kit.key, kernelTLS: true)
        #expect(context.kernelTLS)
        try await withTLSServer(kit, context: context, router: router) { _, port in
            let url = "https://127.0.0.1:\(port)/k"
            let out = kit.path("k.out")
            for versions in [["--tlsv1.3"], ["--tlsv1.2", "--tls-max", "1.2"]] {
                let whole = try await kit.command(["curl", "-sS", "--cacert", kit.ca] + versions + ["-o", out, "-w", "%{http_code}", url])
                #expect(whole.output == "200", "\(versions)")
                #expect((try? Data(contentsOf: URL(fileURLWithPath: out))) == Data(bytes), "\(versions)")
                let part = try await kit.command(["curl", "-sS", "--cacert", kit.ca] + versions + ["-r", "1000-1099", "-o", out, "-w", "%{http_code}", url])
                #expect(part.output == "206" && (try? Data(contentsOf: URL(fileURLWithPath: out))) == Data(bytes[1000..<1100]))
            }
        }
        // The kernel takes a connection's keys only with its tls module loaded (it may load it itself
        // on the first request); without it every connection stayed on user-space TLS, as served above.
        #expect((context.kernelTLSConnections > 0) == TLSContext.kernelTLSModuleLoaded,
                "kernel TLS connections \(context.kernelTLSConnections), tls ULP loaded \(TLSContext.kernelTLSModuleLoaded)")
    }

    @Test("200 keep-alive TLS connections, each answered twice")
    func manyConnections() async throws {
        let kit = try TLSTestKit()
        try await withTLSServer(kit) { _, port in
            let r = try await kit.command(["python3", kit.client, "many", "\(port)", kit.ca, "200"], timeout: 120)
            #expect(r.output.contains("ok 400"), "\(r.output)")
        }
    }

    @Test("reload: new connections get the new pair, an open one keeps working; a bad pair is refused and the old kept")
    func reload() async throws {
        let kit = try TLSTestKit()
        try await withTLSServer(kit) { server, port in
            func subject() async throws -> String {
                try await kit.command(["python3", kit.client, "get", "\(port)", kit.ca]).output
            }
            #expect(try await subject().contains("subject server"))
            let tls = try #require(server.configuration.tls)
            // Swap the files under the same paths, as cert-manager does, then reload.
            try FileManager.default.removeItem(atPath: kit.cert)
            try FileManager.default.removeItem(atPath: kit.key)
            try FileManager.default.copyItem(atPath: kit.secondCert, toPath: kit.cert)
            try FileManager.default.copyItem(atPath: kit.secondKey, toPath: kit.key)
            try tls.reload()
            #expect(try await subject().contains("subject second"))
            try FileManager.default.removeItem(atPath: kit.key)
            try FileManager.default.copyItem(atPath: kit.strayKey, toPath: kit.key)
            #expect(throws: TLSContext.LoadError.self) { try tls.reload() }
            #expect(try await subject().contains("subject second"), "the last good pair is still served")
        }
    }

    @Test("a certificate or key that cannot be used is named")
    func badPairs() throws {
        let kit = try TLSTestKit()
        #expect(throws: TLSContext.LoadError.self) { try TLSContext(certificatePath: kit.path("missing.pem"), keyPath: kit.key) }
        #expect(throws: TLSContext.LoadError.self) { try TLSContext(certificatePath: kit.cert, keyPath: kit.strayKey) }
        do { _ = try TLSContext(certificatePath: kit.cert, keyPath: kit.strayKey) } catch {
            #expect("\(error)".contains("stray.key") && "\(error)".contains("mismatch"), "\(error)")
        }
    }
}
