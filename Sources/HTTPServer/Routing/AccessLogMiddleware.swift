import Dispatch
import Logging

/// Logs one line per request with method, path, status, duration and request id. Errors thrown by
/// inner handlers are logged with the status they will be answered with, then rethrown. `redact`
/// rewrites the path before it is logged (a secret a client put in a URL stays out of the log).
public struct AccessLogMiddleware: HTTPMiddleware {
    let logger: Logger
    let level: Logger.Level
    let redact: @Sendable (String) -> String

    public init(logger: Logger, level: Logger.Level = .info, redact: @escaping @Sendable (String) -> String = { $0 }) {
        self.logger = logger
        self.level = level
        self.redact = redact
    }

    public func handle(_ request: HTTPRequest, next: any HTTPHandler) async throws -> HTTPResponse {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let response = try await next.handle(request)
            log(request, response.status.code, since: start)
            return response
        } catch {
            log(request, Self.status(of: error), since: start)
            throw error
        }
    }

    /// Logs only what it answers: a nil (the request goes on to `handle`) is logged there, once.
    public func respondImmediately(to request: HTTPRequest, next: any HTTPHandler) throws -> HTTPResponse? {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            guard let response = try next.respondImmediately(to: request) else { return nil }
            log(request, response.status.code, since: start)
            return response
        } catch {
            log(request, Self.status(of: error), since: start)
            throw error
        }
    }

    /// The status an error thrown by a handler is answered with (see `HTTPResponse.forError`).
    static func status(of error: any Error) -> Int {
        switch error {
        case let error as HTTPError: error.status.code
        case let error as HTTPParseError: error.status.code
        default: HTTPStatus.internalServerError.code
        }
    }

    private func log(_ request: HTTPRequest, _ status: Int, since start: UInt64) {
        guard logger.logLevel <= level else { return }
        let micros = (DispatchTime.now().uptimeNanoseconds &- start) / 1000
        let path = redact(request.path)
        logger.log(level: level, "\(request.method) \(path) \(status)", metadata: [
            "method": "\(request.method)", "path": "\(path)", "status": "\(status)",
            "duration_us": "\(micros)", "request-id": "\(request.requestID)",
            "remote": "\(request.remoteAddress?.description ?? "-")",
        ])
    }
}

/// Adds `Server-Timing: app;dur=<ms>` (W3C Server Timing) with the time the inner handler took to
/// produce the response head.
public struct TimingMiddleware: HTTPMiddleware {
    public init() {}

    public func handle(_ request: HTTPRequest, next: any HTTPHandler) async throws -> HTTPResponse {
        let start = DispatchTime.now().uptimeNanoseconds
        return Self.timed(try await next.handle(request), since: start)
    }

    public func respondImmediately(to request: HTTPRequest, next: any HTTPHandler) throws -> HTTPResponse? {
        let start = DispatchTime.now().uptimeNanoseconds
        return try next.respondImmediately(to: request).map { Self.timed($0, since: start) }
    }

    private static func timed(_ response: HTTPResponse, since start: UInt64) -> HTTPResponse {
        var response = response
        let millis = Double(DispatchTime.now().uptimeNanoseconds &- start) / 1_000_000
        response.headers.append(name: "Server-Timing", value: "app;dur=\((millis * 1000).rounded() / 1000)")
        return response
    }
}
