import Foundation
import HTTPServer
import Logging
import Store

/// Records every write and admin action: one `info` log line and one `audit_log` row, with the
/// token's id and name, the action (`DELETE /v1/adapters/{ref}`), its target and the status.
/// Tokens are never written: the target is redacted, and the secret itself never reaches here.
struct AuditTrail: Sendable {
    let store: CatalogExecutor
    let logger: Logger

    /// Whether a request on a route of `access` with `method` is audited: actions that change
    /// something (not GET or HEAD) on write and admin routes.
    static func audits(_ method: HTTPMethod, _ access: RouteAccess) -> Bool {
        guard method != .get, method != .head, case .scope(let scope) = access else { return false }
        return scope >= .write
    }

    func record(_ request: HTTPRequest, pattern: String, caller: Caller, status: Int, location: String?) async {
        let action = "\(request.method.rawValue) \(RouteTable.openAPIPath(pattern))"
        var parts = request.pathParameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        if let name = request.queryValue("name") { parts.append("name=\(name)") }
        if let location { parts.append("location=\(location)") }
        let target = SecretRedaction.redact(parts.joined(separator: " "))
        let entry = AuditEntry(time: Date(), tokenID: caller.token?.id, tokenName: caller.token?.name,
                               namespace: caller.namespace, action: action, target: target, status: status,
                               requestID: request.requestID)
        logger.info("audit: \(action) \(status)", metadata: [
            "token-id": "\(caller.token?.id.rawValue ?? "-")", "token-name": "\(caller.token?.name ?? "-")",
            "action": "\(action)", "target": "\(target)", "status": "\(status)", "request-id": "\(request.requestID)",
        ])
        do { try await store.write { try $0.appendAudit(entry) } } catch {
            logger.error("the audit log could not be written", metadata: ["error": "\(error)", "request-id": "\(request.requestID)"])
        }
    }
}
