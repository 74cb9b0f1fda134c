// http-bench-server: serves the benchmark's bytes with HTTPServer, for Benchmarks/http/run.sh.
//   http-bench-server PORT DIRECTORY [RESERVED_DESCRIPTORS]
// (The descriptor-exhaustion tests start it under a low RLIMIT_NOFILE, with the reserve they test.)
// GET /healthz → "ok\n" from memory; GET /<name> → DIRECTORY/<name> with sendfile(2) (ranges and ETag too).
// No access log, like the nginx configuration it is compared with. With BENCH_TLS_CERT, BENCH_TLS_KEY
// and BENCH_TLS_PORT in the environment, the same routes are also served over HTTPS on that port.
import Dispatch
import Foundation
import HTTPServer
import Logging

let arguments = CommandLine.arguments
guard (3...4).contains(arguments.count), let port = UInt16(arguments[1]),
      let reserved = arguments.count == 4 ? Int(arguments[3]) : HTTPLimits.default.reservedDescriptors else {
    fatalError("usage: http-bench-server PORT DIRECTORY [RESERVED_DESCRIPTORS]")
}
let directory = arguments[2]

var logger = Logger(label: "http-bench-server")
logger.logLevel = .warning

var limits = HTTPLimits()
limits.maxRequestsPerConnection = 1_000_000  // as nginx's keepalive_requests in the benchmark
limits.maxConnections = 12_000
limits.keepAliveIdleTimeout = .seconds(120)  // idle.py holds 10,000 connections while it opens them all
limits.reservedDescriptors = reserved

let ok: [UInt8] = Array("ok\n".utf8)
var router = HTTPRouter()
router.add(.get, "/healthz", immediately: { _ in .bytes(ok, contentType: "text/plain") })
router.add(.get, "/:name", immediately: { request in
    let name = request.pathParameters["name"] ?? ""
    guard !name.contains("/"), !name.hasPrefix(".") else { throw HTTPError.notFound("no such file") }
    return try .file(path: directory + "/" + name, request: request)
})

let server = HTTPServer(configuration: .init(address: .loopbackIPv4(port: port), limits: limits, backlog: 4096),
                        handler: router, logger: logger)
let address = try server.start()
// Written unbuffered: scripts and tests that start it read this line through a pipe or a file.
FileHandle.standardOutput.write(Data("http-bench-server listening on \(address)\n".utf8))
let environment = ProcessInfo.processInfo.environment
var secure: HTTPServer?   // kept for the life of the process
if let cert = environment["BENCH_TLS_CERT"], let key = environment["BENCH_TLS_KEY"],
   let text = environment["BENCH_TLS_PORT"], let tlsPort = UInt16(text) {
    let tls = try TLSContext(certificatePath: cert, keyPath: key)
    let https = HTTPServer(configuration: .init(address: .loopbackIPv4(port: tlsPort), limits: limits, backlog: 4096, tls: tls),
                           handler: router, logger: logger)
    let tlsAddress = try https.start()
    secure = https
    FileHandle.standardOutput.write(Data("http-bench-server listening on https://\(tlsAddress)\n".utf8))
}
withExtendedLifetime(secure) { dispatchMain() }
