import Foundation
import HTTPServer
import Store

extension AdapterService {
    /// The body of `POST /v1/tokens`.
    struct NewTokenRequest: Decodable {
        let name: String
        let scope: TokenScope
        let namespace: String?
        let expiresIn: String?
    }

    func addAccessRoutes(_ t: inout RouteTable) {
        // Tokens: an admin makes, lists and revokes them; a namespace admin only its namespace's.
        t.add(.post, "/v1/tokens", access: .scope(.admin), maxBodyBytes: 4096) { [self] request, caller in
            let bytes = try await request.body.collect(upTo: 4096)
            let body = try JSONBody.decode(NewTokenRequest.self, from: bytes,
                                           expected: "{\"name\": \"fleet-eu\", \"scope\": \"read\" | \"write\" | \"admin\", \"namespace\": \"team-a\" (optional), \"expiresIn\": \"90d\" (optional)}")
            let lifetime = try body.expiresIn.map { text in
                guard let lifetime = TokenLifetime(text) else {
                    throw ServiceError.badRequest("expiresIn \"\(text.prefix(40))\" must be \(TokenLifetime.forms)", type: "invalid-token-request")
                }
                return lifetime
            }
            let namespace = body.namespace ?? caller.namespace
            if let own = caller.namespace, namespace != own {
                throw HTTPError(.forbidden, type: "outside-namespace",
                                detail: "this token is limited to the namespace \"\(own)\": it can only make tokens of that namespace")
            }
            let (token, record) = try await store.write { catalog in
                try TokenIssuer.issue(in: catalog, name: body.name, scope: body.scope, namespace: namespace, lifetime: lifetime)
            }
            var response = HTTPResponse.json(try JSONBody.encode(CreatedToken(token: token, record: record)),
                                             status: .created)
            response.headers["Location"] = "/v1/tokens/\(record.id)"
            response.headers["Cache-Control"] = "no-store"  // the only time the secret is shown
            return response
        }

        t.add(.get, "/v1/tokens", access: .scope(.admin)) { [self] _, caller in
            let namespace = caller.namespace
            let records = try await store.read { try $0.tokens(namespace: namespace) }
            struct List: Encodable { let items: [TokenDescription] }
            var response = HTTPResponse.json(try JSONBody.encode(List(items: records.map { TokenDescription($0) })))
            response.headers["Cache-Control"] = "no-store"
            return response
        }

        t.add(.delete, "/v1/tokens/:id", access: .scope(.admin)) { [self] request, caller in
            let id = try TokenID(validating: request.pathParameters["id"] ?? "")
            let namespace = caller.namespace
            do { try await store.write { try $0.revokeToken(id, namespace: namespace) } } catch CatalogError.unknownToken {
                throw HTTPError(.notFound, type: "not-found", detail: "no token \(id)")
            }
            authenticator.forgetCachedTokens()   // effective on the next request
            return .status(.noContent)
        }

        // The audit log, newest first; `before` pages back through it.
        t.add(.get, "/v1/audit", access: .scope(.admin)) { [self] request, caller in
            let limit = try Self.intQuery(request, "limit", default: 100, range: 1...AdapterCatalog.maxAuditPage)
            let before = try request.queryValue("before").map { _ in
                Int64(try Self.intQuery(request, "before", default: 0, range: 1...Int.max))
            }
            let namespace = caller.namespace
            let entries = try await store.read { try $0.auditEntries(limit: limit, before: before, namespace: namespace) }
            struct Entry: Encodable {
                let sequence: Int64, time: String, tokenId: String?, tokenName: String?, namespace: String?
                let action: String, target: String, status: Int, requestId: String
            }
            struct Page: Encodable {
                let items: [Entry]
                let nextBefore: Int64?
                enum CodingKeys: CodingKey { case items, nextBefore }
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(items, forKey: .items)
                    try c.encode(nextBefore, forKey: .nextBefore)   // null on the last page, not absent
                }
            }
            let f = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
            let items = entries.map {
                Entry(sequence: $0.sequence, time: $0.time.formatted(f), tokenId: $0.tokenID?.rawValue, tokenName: $0.tokenName,
                      namespace: $0.namespace, action: $0.action, target: $0.target, status: $0.status, requestId: $0.requestID)
            }
            let next = entries.count == limit ? entries.last?.sequence : nil
            return .json(try JSONBody.encode(Page(items: items, nextBefore: next)))
        }
    }
}
