import Foundation
import Testing
import TestSupport

/// `serve` over HTTPS with certificates made at test time by the `openssl` command: curl and
/// `openssl s_client` as the clients, a rotation through SIGHUP, and the settings' refusals.
@Suite("serve over TLS")
struct TLSCLITests {
    /// A CA and two server pairs it signs for 127.0.0.1 (CN=first, CN=second), and a stray key.
    final class Certificates: @unchecked Sendable {
        let directory: URL
        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("serve-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let script = """
                set -e; cd '\(directory.path)'
                openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=test CA' 2>/dev/null
                for n in first second; do
                  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr -subj "/CN=$n" 2>/dev/null
                  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > $n.ext
                  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 -extfile $n.ext 2>/dev/null
                done
                openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out stray.key 2>/dev/null
                cp first.pem live.pem; cp first.key live.key
                """
            let r = try CLITestShell.run(["/bin/bash", "-c", script])
            guard r.status == 0 else { throw CLIRunner.Failure(description: "openssl: \(r.output)") }
        }
        deinit { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    }

    /// The subject CN the server presents now, as `openssl s_client` reads it.
    static func subject(_ port: Int) throws -> String {
        let r = try CLITestShell.run(["/bin/bash", "-c", "openssl s_client -connect 127.0.0.1:\(port) -servername localhost </dev/null 2>/dev/null | grep '^subject='"])
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("HTTPS on --port: curl verifies it, tokens work over it, plain HTTP there is a 400; SIGHUP rotates the pair")
    func mainPortAndRotation() async throws {
        let certs = try Certificates()
        let server = try ServeProcess(["--tls-cert", certs.path("live.pem"), "--tls-key", certs.path("live.key"),
                                       "--scrub-interval", "0", "--min-free-disk", "0"])
        let token = try #require(server.adminToken)
        let port = server.port
        let base = "https://127.0.0.1:\(port)"
        try await HTTPTestClient.onThread {
            let health = try CLITestShell.run(["curl", "-sS", "--cacert", certs.path("ca.pem"), base + "/healthz"])
            #expect(health.output == #"{"status":"ok"}"#, "\(health.output)")
            let list = try CLITestShell.run(["curl", "-sS", "--cacert", certs.path("ca.pem"), "-H", "Authorization: Bearer \(token)", base + "/v1/adapters"])
            #expect(list.output.contains("\"items\""), "\(list.output)")
            let old = try CLITestShell.run(["curl", "-sS", "--cacert", certs.path("ca.pem"), "--tlsv1.1", "--tls-max", "1.1", base + "/healthz"])
            #expect(old.status != 0, "TLS 1.1 is refused: \(old.output)")
            #expect(try Self.subject(port).contains("first"))
        }
        #expect(server.status("/healthz") == 400, "plain HTTP on the TLS port")

        // cert-manager writes the new pair; SIGHUP; new connections see it.
        for name in ["pem", "key"] {
            try FileManager.default.removeItem(atPath: certs.path("live.\(name)"))
            try FileManager.default.copyItem(atPath: certs.path("second.\(name)"), toPath: certs.path("live.\(name)"))
        }
        server.signal(SIGHUP)
        #expect(try await eventuallyAsync { try Self.subject(port).contains("second") }, "rotated")
        // A bad pair: logged, and the last good one kept.
        try FileManager.default.removeItem(atPath: certs.path("live.key"))
        try FileManager.default.copyItem(atPath: certs.path("stray.key"), toPath: certs.path("live.key"))
        server.signal(SIGHUP)
        let logPath = server.logPath
        #expect(try await eventuallyAsync {
            ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").contains("still serving the previous pair")
        })
        let after = try await HTTPTestClient.onThread { try Self.subject(port) }
        #expect(after.contains("second"), "the last good pair is still served: \(after)")
    }

    @Test("--tls-port beside --port: probes stay plain, HTTPS on its own port; --tls-ktls on is logged and counted")
    func separatePort() async throws {
        let certs = try Certificates()
        let probe = try CLITestShell.run(["python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
        let tlsPort = try #require(Int(probe.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let server = try ServeProcess(["--tls-cert", certs.path("first.pem"), "--tls-key", certs.path("first.key"), "--tls-port", "\(tlsPort)",
                                       "--tls-ktls", "on", "--scrub-interval", "0", "--min-free-disk", "0"])
        #expect(server.status("/healthz") == 200, "the main port is plain")
        let r = try await HTTPTestClient.onThread {
            try CLITestShell.run(["curl", "-sS", "--cacert", certs.path("ca.pem"), "https://127.0.0.1:\(tlsPort)/healthz"])
        }
        #expect(r.output == #"{"status":"ok"}"#, "\(r.output)")
        #expect(server.log.contains("listening on https://127.0.0.1:\(tlsPort)"))
        #expect(server.log.contains("kernel TLS requested"), "\(server.log)")
        let plainPort = server.port
        let metrics = try await HTTPTestClient.onThread {
            try CLITestShell.run(["curl", "-sS", "http://127.0.0.1:\(plainPort)/metrics"])
        }
        #expect(metrics.output.contains("\nlora_squeeze_tls_kernel_connections_total "), "\(metrics.output.suffix(400))")
    }

    @Test("TLS settings are refused by name", arguments: [
        (["--tls-cert", "CERT"], "both"),
        (["--tls-key", "KEY"], "both"),
        (["--tls-port", "9443"], "--tls-port needs"),
        (["--tls-ktls", "on"], "--tls-ktls on needs"),
        (["--tls-cert", "CERT", "--tls-key", "KEY", "--tls-ktls", "yes"], "on or off"),
        (["--tls-cert", "/nonexistent.pem", "--tls-key", "KEY"], "cannot be read"),
    ])
    func refusals(_ args: [String], _ fragment: String) async throws {
        let certs = try Certificates()
        let resolved = args.map { $0 == "CERT" ? certs.path("first.pem") : $0 == "KEY" ? certs.path("first.key") : $0 }
        let r = try await CLIRunner.run(["serve", "--check", "--data", certs.path("data")] + resolved)
        #expect(!r.succeeded && r.stderr.contains(fragment), "\(args): \(r.stderr)")
    }

    @Test("a certificate and key that do not match stop start-up, naming the file")
    func mismatchedPair() async throws {
        let certs = try Certificates()
        #expect(throws: (any Error).self) {
            _ = try ServeProcess(["--tls-cert", certs.path("first.pem"), "--tls-key", certs.path("stray.key")], startTimeout: .seconds(10))
        }
        let r = try await CLIRunner.run(["serve", "--data", certs.path("data"), "--port", "0", "--host", "127.0.0.1",
                                         "--tls-cert", certs.path("first.pem"), "--tls-key", certs.path("stray.key")])
        #expect(!r.succeeded && (r.stderr + r.stdout).contains("stray.key"), "\(r.stderr)")
    }

    @Test("the dashboard over TLS: the session cookie is __Host-lsq_session, Secure, HttpOnly, SameSite=Strict, and signs in")
    func dashboardCookieOverTLS() async throws {
        let certs = try Certificates()
        let server = try ServeProcess(["--tls-cert", certs.path("first.pem"), "--tls-key", certs.path("first.key"),
                                       "--scrub-interval", "0", "--min-free-disk", "0"])
        let token = try #require(server.adminToken)
        let base = "https://127.0.0.1:\(server.port)"
        let jar = certs.path("cookies.txt")
        try await HTTPTestClient.onThread {
            let curl = ["curl", "-sS", "--cacert", certs.path("ca.pem"), "-H", "Accept: text/html", "-c", jar, "-b", jar]
            let form = try CLITestShell.run(curl + ["-D", "-", base + "/ui/sign-in"])
            let cookieLine = form.output.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") }.map(String.init) ?? ""
            #expect(cookieLine.contains("__Host-lsq_session=") && cookieLine.contains("; Secure") && cookieLine.contains("HttpOnly")
                    && cookieLine.contains("SameSite=Strict") && cookieLine.contains("Path=/") && !cookieLine.contains("Domain"), "\(cookieLine)")
            let marker = "name=\"csrf\" value=\""
            let csrf = form.output.components(separatedBy: marker).dropFirst().first.map { String($0.prefix(64)) } ?? ""
            #expect(csrf.count == 64)
            let signIn = try CLITestShell.run(curl + ["-D", "-", "-o", "/dev/null", "--data-urlencode", "csrf=\(csrf)",
                                                      "--data-urlencode", "token=\(token)", base + "/ui/sign-in"])
            #expect(signIn.output.hasPrefix("HTTP/1.1 303") && signIn.output.contains("__Host-lsq_session="), "\(signIn.output)")
            let page = try CLITestShell.run(curl + ["-w", "%{http_code}", "-o", "/dev/null", base + "/ui/adapters"])
            #expect(page.output == "200", "signed in over TLS: \(page.output)")
        }
    }
}

/// Runs a command to its end on the calling thread, output and errors merged.
enum CLITestShell {
    struct Result {
        let status: Int32
        let output: String
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}

/// Polls `condition` on a thread of its own every 100 ms for up to 10 s.
func eventuallyAsync(_ condition: @escaping @Sendable () throws -> Bool) async throws -> Bool {
    try await HTTPTestClient.onThread {
        let end = Date().addingTimeInterval(10)
        while Date() < end {
            if try condition() { return true }
            usleep(100_000)
        }
        return false
    }
}
