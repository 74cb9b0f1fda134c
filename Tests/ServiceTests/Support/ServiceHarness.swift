import Foundation
import HTTPServer
import Logging
import Service
import Testing
import TestSupport

/// A real `AdapterService` listening on an ephemeral loopback port, with its SQLite catalog and blobs
/// in a temporary directory, and a client that talks to it over sockets.
struct RunningService: Sendable {
    let service: AdapterService
    let configuration: ServiceConfiguration
    /// Sends the harness's admin token with every request.
    let client: HTTPTestClient

    var directory: URL { configuration.dataDirectory }

    /// A client that sends no token.
    var anonymous: HTTPTestClient { client.with(defaultHeaders: []) }

    /// A client that sends `token`.
    func client(token: String) -> HTTPTestClient { client.bearer(token) }
}

enum ServiceHarness {
    /// Silent unless SERVICE_TEST_LOG names a level (e.g. SERVICE_TEST_LOG=debug), then to standard error.
    static func logger() -> Logger {
        guard let name = ProcessInfo.processInfo.environment["SERVICE_TEST_LOG"], let level = Logger.Level(rawValue: name) else {
            var logger = Logger(label: "service-test")
            logger.logLevel = .critical
            return logger
        }
        var logger = Logger(label: "service-test") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }

    /// The unlimited admin token every test service is seeded with (auth is on, as by default).
    static let adminToken = TokenIssuer.generate()

    /// The test configuration: loopback, port 0, two workers, a short shutdown grace and no drain
    /// delay, authentication on with `adminToken` as the admin token.
    static func configuration(directory: URL, _ customize: (inout ServiceConfiguration) -> Void = { _ in }) -> ServiceConfiguration {
        var limits = ServiceLimits()
        limits.cacheBudgetBytes = 1 << 30
        limits.minFreeDiskBytes = 0   // tests that need a full disk say so with their own probe
        var c = ServiceConfiguration(dataDirectory: directory, host: "127.0.0.1", port: 0,
                                     workers: 2, shutdownGrace: .seconds(2), drainDelay: .zero, limits: limits)
        c.access.adminTokenSeed = adminToken
        customize(&c)
        return c
    }

    static func start(_ configuration: ServiceConfiguration) async throws -> RunningService {
        let service = try AdapterService(configuration: configuration, logger: logger())
        let address: SocketAddress
        do { address = try await service.start() } catch {
            await service.stop()
            throw error
        }
        return RunningService(service: service, configuration: configuration,
                              client: HTTPTestClient(host: "127.0.0.1", port: Int(address.port), timeout: 30)
                                .bearer(adminToken))
    }

    /// Stops `running` and starts a new service on the same directory (a restart of the process).
    static func restart(_ running: RunningService) async throws -> RunningService {
        await running.service.stop()
        return try await start(running.configuration)
    }

    /// Runs `body` against a fresh service in a fresh temporary directory; afterwards the service is
    /// stopped and the directory removed, whether `body` threw or not.
    static func with<T>(_ customize: (inout ServiceConfiguration) -> Void = { _ in },
                        _ body: (RunningService) async throws -> T) async throws -> T {
        let directory = AdapterFixture.temporaryDirectory("service")
        defer { try? FileManager.default.removeItem(at: directory) }
        let running = try await start(configuration(directory: directory, customize))
        do {
            let result = try await body(running)
            await running.service.stop()
            return result
        } catch {
            await running.service.stop()
            throw error
        }
    }
}

// MARK: Conveniences over the API

extension RunningService {
    func get(_ target: String, headers: [(String, String)] = []) async throws -> HTTPTestResponse {
        try await client.get(target, headers: headers)
    }

    /// `POST /v1/adapters` with `body` as `contentType`, tagged `name` when given.
    func upload(contentType: String, body: [UInt8], query: String = "") async throws -> HTTPTestResponse {
        try await client.request("POST", "/v1/adapters" + query, headers: [("Content-Type", contentType)], body: body)
    }

    /// Uploads the two PEFT files as multipart and returns the description; fails the test unless the
    /// status is `expecting` (201 by default).
    @discardableResult
    func uploadPEFT(_ files: PEFTUpload, name: String? = nil, expecting status: Int = 201,
                    sourceLocation: SourceLocation = #_sourceLocation) async throws -> AdapterJSON {
        let (type, body) = UploadBody.peftMultipart(config: files.config, weights: files.weights)
        let response = try await upload(contentType: type, body: body, query: name.map { "?name=\($0)" } ?? "")
        try #require(response.status == status, "upload: \(response.status) \(response.text)", sourceLocation: sourceLocation)
        return try response.decode(AdapterJSON.self)
    }

    /// Uploads a kohya file as application/octet-stream.
    @discardableResult
    func uploadKohya(_ bytes: [UInt8], name: String? = nil, expecting status: Int = 201,
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> AdapterJSON {
        let response = try await upload(contentType: "application/octet-stream", body: bytes,
                                        query: name.map { "?name=\($0)" } ?? "")
        try #require(response.status == status, "upload: \(response.status) \(response.text)", sourceLocation: sourceLocation)
        return try response.decode(AdapterJSON.self)
    }

    /// `GET /v1/adapters` (with `query`) decoded.
    func list(_ query: String = "") async throws -> PageJSON {
        let response = try await get("/v1/adapters" + query)
        try #require(response.status == 200, "list: \(response.status) \(response.text)")
        return try response.decode(PageJSON.self)
    }

    /// `POST /v1/tokens` with the admin token (or `as` another client); fails the test unless 201.
    func createToken(name: String, scope: String, namespace: String? = nil, expiresIn: String? = nil,
                     as creator: HTTPTestClient? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> (id: String, token: String) {
        var fields = ["\"name\": \"\(name)\"", "\"scope\": \"\(scope)\""]
        if let namespace { fields.append("\"namespace\": \"\(namespace)\"") }
        if let expiresIn { fields.append("\"expiresIn\": \"\(expiresIn)\"") }
        let response = try await (creator ?? client).send("POST", "/v1/tokens", json: "{" + fields.joined(separator: ", ") + "}")
        try #require(response.status == 201, "create token: \(response.status) \(response.text)", sourceLocation: sourceLocation)
        let object = try response.jsonObject()
        return (object["id"] as? String ?? "", object["token"] as? String ?? "")
    }

    /// A scrape of `/metrics`.
    func metrics() async throws -> MetricsSnapshot {
        let response = try await get("/metrics")
        try #require(response.status == 200, "metrics: \(response.status)")
        return MetricsSnapshot(text: response.text)
    }

    /// Polls `GET /v1/jobs/{id}` every 100 ms until the job is finished; fails after `timeout`.
    func waitForJob(_ location: String, timeout: Duration = .seconds(60),
                    sourceLocation: SourceLocation = #_sourceLocation) async throws -> JobJSON {
        let deadline = ContinuousClock.now + timeout
        while true {
            let response = try await get(location)
            try #require(response.status == 200, "\(location): \(response.status) \(response.text)", sourceLocation: sourceLocation)
            let job = try response.decode(JobJSON.self)
            if job.state == "succeeded" || job.state == "failed" { return job }
            guard ContinuousClock.now < deadline else {
                Issue.record("job \(location) still \(job.state) (\(job.done)/\(job.total)) after \(timeout)", sourceLocation: sourceLocation)
                return job
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Every file under `blobs/`, as paths relative to it.
    func blobFiles() -> Set<String> { Self.files(under: directory.appendingPathComponent("blobs")) }

    /// Every file under `tmp/` (writers' temporary files).
    func temporaryFiles() -> Set<String> { Self.files(under: directory.appendingPathComponent("tmp")) }

    static func files(under root: URL) -> Set<String> {
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var out = Set<String>()
        while let path = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path, isDirectory: &isDirectory), !isDirectory.boolValue {
                out.insert(path)
            }
        }
        return out
    }
}

/// Checks a 4xx/5xx answer is an RFC 9457 problem with `status`, and returns it.
@discardableResult
func expectProblem(_ response: HTTPTestResponse, status: Int, detailContains fragments: [String] = [],
                   _ context: String = "", sourceLocation: SourceLocation = #_sourceLocation) throws -> ProblemJSON {
    #expect(response.status == status, "\(context): status \(response.status), expected \(status): \(response.text)",
            sourceLocation: sourceLocation)
    #expect(response.header("Content-Type") == "application/problem+json", "\(context): Content-Type \(response.header("Content-Type") ?? "none")",
            sourceLocation: sourceLocation)
    let problem = try response.decode(ProblemJSON.self)
    #expect(problem.status == response.status, "\(context): problem status \(problem.status)", sourceLocation: sourceLocation)
    #expect(problem.type.hasPrefix("/problems/"), "\(context): type \(problem.type)", sourceLocation: sourceLocation)
    for f in fragments {
        #expect(problem.detail.contains(f), "\(context): detail \"\(problem.detail)\" does not mention \"\(f)\"", sourceLocation: sourceLocation)
    }
    return problem
}
