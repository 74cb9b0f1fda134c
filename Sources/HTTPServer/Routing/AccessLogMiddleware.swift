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
        func log(_ status: Int) {
            let micros = (DispatchTime.now().uptimeNanoseconds - start) / 1000
            let path = redact(request.path)
            logger.log(level: level, "\(request.method) \(path) \(status)", metadata: [
                "method": "\(request.method)", "path": "\(path)", "status": "\(status)",
                "duration_us": "\(micros)", "request-id": "\(request.requestID)",
                "remote": "\(request.remoteAddress?.description ?? "-")",
            ])
        }
        do {
            let response = try await next.handle(request)
            log(response.status.code)
            return response
        } catch let error as HTTPError {
            log(error.status.code)
            throw error
        } catch {
            log(HTTPStatus.internalServerError.code)
            throw error
        }
    }
}

/// Adds `Server-Timing: app;dur=<ms>` (W3C Server Timing) with the time the inner handler took to
/// produce the response head.
public struct TimingMiddleware: HTTPMiddleware {
    public init() {}

    public func handle(_ request: HTTPRequest, next: any HTTPHandler) async throws -> HTTPResponse {
        let start = DispatchTime.now().uptimeNanoseconds
        var response = try await next.handle(request)
        let millis = Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
        response.headers.append(name: "Server-Timing", value: "app;dur=\((millis * 1000).rounded() / 1000)")
        return response
    }
}
