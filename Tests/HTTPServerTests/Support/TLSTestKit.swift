import Foundation
@testable import HTTPServer

/// Certificates made at test time with the `openssl` command (a CA, two server pairs it signs for
/// 127.0.0.1 and localhost, and a key that matches neither), and clients that are not ours: curl,
/// Python's `ssl` and `openssl s_client`. Removed with its directory.
final class TLSTestKit: @unchecked Sendable {
    let directory: URL
    var ca: String { path("ca.pem") }
    var cert: String { path("server.pem") }
    var key: String { path("server.key") }
    var secondCert: String { path("second.pem") }
    var secondKey: String { path("second.key") }
    var strayKey: String { path("stray.key") }
    var client: String { path("client.py") }

    struct CommandResult {
        let status: Int32
        let output: String
    }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let d = directory.path
        let script = """
            set -e
            cd '\(d)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=lora-squeeze test CA' 2>/dev/null
            for name in server second; do
              openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $name.key -out $name.csr -subj "/CN=$name" 2>/dev/null
              printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > $name.ext
              openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $name.pem -days 2 -extfile $name.ext 2>/dev/null
            done
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out stray.key 2>/dev/null
            """
        let made = Self.run(["/bin/bash", "-c", script])
        guard made.status == 0 else { throw TLSContext.LoadError(description: "openssl could not make test certificates: \(made.output)") }
        try Self.clientScript.write(toFile: client, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func context() throws -> TLSContext { try TLSContext(certificatePath: cert, keyPath: key) }

    /// Runs a command to its end (on the calling thread) and returns its status and merged output.
    static func run(_ arguments: [String], input: Data? = nil, timeout: TimeInterval = 60) -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let stdin = Pipe()
        process.standardInput = stdin
        do { try process.run() } catch { return CommandResult(status: -1, output: "\(error)") }
        if let input { stdin.fileHandleForWriting.write(input) }
        try? stdin.fileHandleForWriting.close()
        let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        killer.cancel()
        return CommandResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// `run` on a thread of its own (never a cooperative thread).
    func command(_ arguments: [String], timeout: TimeInterval = 60) async throws -> CommandResult {
        try await blocking { Self.run(arguments, timeout: timeout) }
    }

    /// The Python client: `client.py MODE PORT CA [ARGS]`; prints what the test reads.
    static let clientScript = #"""
import socket, ssl, sys, time
mode, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def context(maximum=None):
    c = ssl.create_default_context(cafile=ca)
    c.set_alpn_protocols(["http/1.1"])
    if maximum:
        c.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        c.maximum_version = maximum
    return c

def connect(maximum=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    return context(maximum).wrap_socket(raw, server_hostname="localhost")

def response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk: return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length": length = int(v)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk: break
        body += chunk
    return head + b"\r\n\r\n" + body

if mode == "get":
    s = connect()
    print("version", s.version(), "alpn", s.selected_alpn_protocol(), "subject", dict(x[0] for x in s.getpeercert()["subject"])["commonName"])
    for _ in range(2):
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        print(response(s).split(b"\r\n")[0].decode())
    s.close()
elif mode == "raw":
    s = connect()
    s.sendall(sys.argv[4].encode().decode("unicode_escape").encode("latin-1"))
    print(response(s).split(b"\r\n")[0].decode())
    try:
        s.settimeout(5)
        print("after", repr(s.recv(100)))
    except Exception as e:
        print("after", type(e).__name__)
elif mode == "old":
    try:
        s = connect(ssl.TLSVersion.TLSv1_1)
        print("connected", s.version())
    except Exception as e:
        print("refused", type(e).__name__)
elif mode == "many":
    n = int(sys.argv[4])
    conns = [connect() for _ in range(n)]
    ok = 0
    for round in range(2):
        for s in conns:
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        for s in conns:
            if response(s).startswith(b"HTTP/1.1 200"): ok += 1
    print("ok", ok)
elif mode == "truncated":
    s = connect()
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
    response(s)
    sock = socket.socket(fileno=s.detach())
    sock.sendall(b"\x17\x03\x03\x40\x00" + b"\x00" * 100)  # an application-data record announced 16 KiB, 100 bytes sent
    sock.settimeout(10)
    try:
        print("after", repr(sock.recv(100)))
    except Exception as e:
        print("after", type(e).__name__)
"""#
}
