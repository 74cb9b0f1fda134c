import Foundation
import Service
import Testing
import TestSupport

/// Every registered route, walked with every kind of caller: no token, a malformed one, another
/// scheme, an unknown, a revoked and an expired token, and read/write/admin tokens both unlimited
/// and limited to a namespace. Each answer is checked against the scope the route declares.
@Suite("Route access table", .serialized)
struct RouteAccessTableTests {
    /// The scope the issue gives each operation (method + OpenAPI path of the bare-name route).
    static let expected: [String: String] = [
        "GET /healthz": "open", "GET /readyz": "open", "GET /openapi.json": "open", "GET /metrics": "metrics",
        "GET /v1/adapters": "read", "GET /v1/adapters/{ref}": "read", "GET /v1/adapters/{ref}/files/{file}": "read",
        "GET /v1/blobs/{digest}": "read", "GET /v1/adapters/{ref}/squeezed/{rank}/{file}": "read",
        "GET /v1/adapters/{ref}/squeezed/{archive}": "read", "GET /v1/adapters/{ref}/delta.safetensors": "read",
        "GET /v1/adapters/{ref}/merged.safetensors": "read",
        "GET /v1/adapters/{ref}/merged/{rank}/{file}": "read", "GET /v1/adapters/{ref}/merged/{archive}": "read",
        "GET /v1/bases": "read", "GET /v1/bases/{ref}": "read", "GET /v1/bases/{ref}/files/{file}": "read",
        "POST /v1/bases": "write", "DELETE /v1/bases/{ref}": "admin", "POST /v1/extract": "write",
        "PUT /v1/base-names/{name}": "write", "DELETE /v1/base-names/{name}": "write",
        "GET /v1/adapters/{ref}/spectrum": "read", "GET /v1/adapters/{ref}/spectrum.svg": "read", "GET /v1/jobs/{id}": "read",
        "POST /v1/adapters": "write", "PUT /v1/names/{name}": "write", "DELETE /v1/names/{name}": "write",
        "PUT /v1/adapters/{ref}/squeezed/{rank}/pin": "write", "DELETE /v1/adapters/{ref}/squeezed/{rank}/pin": "write",
        "POST /v1/normalize": "write", "POST /v1/anneal/plan": "read",
        "DELETE /v1/adapters/{ref}": "admin", "POST /v1/tokens": "admin", "GET /v1/tokens": "admin",
        "DELETE /v1/tokens/{id}": "admin", "GET /v1/audit": "admin",
        "GET /hub/{view}/api/models/{ref}": "read", "GET /hub/{view}/api/models/{ref}/revision/{revision}": "read",
        "GET /hub/{view}/api/models/{ref}/tree/{revision}": "read", "GET /hub/{view}/{ref}/resolve/{revision}/{file}": "read",
        // The dashboard: pages authenticate by session cookie (DashboardTests walks them signed in and out).
        "GET /": "open", "GET /ui/assets/{file}": "open", "GET /ui/sign-in": "open", "POST /ui/sign-in": "open",
        "POST /ui/sign-out": "open", "GET /ui/adapters": "read", "GET /ui/adapters/{ref}": "read", "GET /ui/cache": "read",
        "GET /ui/jobs": "read", "GET /ui/jobs/{id}": "read", "GET /ui/normalize": "write", "POST /ui/normalize": "write",
    ]

    @Test("every route declares the issue's scope, and every named route has its namespaced twin")
    func declaredScopes() async throws {
        try await ServiceHarness.with { s in
            let routes = s.service.routeScopes
            var seen: [String: String] = [:]
            for r in routes {
                let key = "\(r.method) \(r.path)"
                #expect(seen[key] == nil, "\(key) registered twice")
                seen[key] = r.access
            }
            for (key, scope) in Self.expected {
                #expect(seen[key] == scope, "\(key): \(seen[key] ?? "not registered"), expected \(scope)")
                if key.contains("{ref}") || key.contains("{name}") {
                    let twin = key.replacingOccurrences(of: "{ref}", with: "{namespace}/{ref}")
                        .replacingOccurrences(of: "{name}", with: "{namespace}/{name}")
                    #expect(seen[twin] == scope, "\(twin): \(seen[twin] ?? "not registered"), expected \(scope)")
                }
            }
            let twins = Self.expected.keys.filter { $0.contains("{ref}") || $0.contains("{name}") }.count
            #expect(routes.count == Self.expected.count + twins, "routes not in the issue's table: \(seen.keys.sorted())")
        }
    }

    struct Caller {
        let label: String
        let authorization: String?
        /// The scope it holds when it is a valid token.
        let scope: String?
        let namespace: String?
    }

    static let rank: [String: Int] = ["read": 0, "write": 1, "admin": 2]

    @Test("each route answers each caller as its scope says")
    func walk() async throws {
        let seed = try ServiceFixtures.peft(seed: 901)
        try await ServiceHarness.with { s in
            // A shared adapter named in team-a (so namespace-limited callers can reach it too).
            let adapter = try await s.uploadPEFT(seed, name: "team-a/base")
            let job = try await s.client.send("POST", "/v1/normalize", json: #"{"adapters": ["team-a/base"], "rank": 2}"#)
            try #require(job.status == 202, "\(job.text)")
            let jobID = try job.jsonObject()["id"] as? String ?? ""
            var callers: [Caller] = [
                Caller(label: "none", authorization: nil, scope: nil, namespace: nil),
                Caller(label: "malformed", authorization: "Bearer not-a-token", scope: nil, namespace: nil),
                Caller(label: "basic", authorization: "Basic dXNlcjpwYXNz", scope: nil, namespace: nil),
                Caller(label: "unknown", authorization: "Bearer \(TestTokens.make())", scope: nil, namespace: nil),
            ]
            let revoked = try await s.createToken(name: "revoked", scope: "admin")
            #expect(try await s.client.request("DELETE", "/v1/tokens/\(revoked.id)").status == 204)
            callers.append(Caller(label: "revoked", authorization: "Bearer \(revoked.token)", scope: nil, namespace: nil))
            let expired = try await s.createToken(name: "expired", scope: "admin", expiresIn: "1s")
            for scope in ["read", "write", "admin"] {
                let plain = try await s.createToken(name: "\(scope)-all", scope: scope)
                callers.append(Caller(label: scope, authorization: "Bearer \(plain.token)", scope: scope, namespace: nil))
                let limited = try await s.createToken(name: "\(scope)-team-a", scope: scope, namespace: "team-a")
                callers.append(Caller(label: "\(scope)@team-a", authorization: "Bearer \(limited.token)", scope: scope, namespace: "team-a"))
            }
            try await Task.sleep(for: .milliseconds(1100))
            callers.append(Caller(label: "expired", authorization: "Bearer \(expired.token)", scope: nil, namespace: nil))

            var invalidBody: String?
            // Dashboard pages answer a browser without a session with a redirect to sign in, not a 401.
            for route in s.service.routeScopes where route.path != "/" && !route.path.hasPrefix("/ui/") {
                for caller in callers {
                    // Every caller from its own address: the failure budget (20 per address) must not
                    // turn the bad-token answers into 429s.
                    let source = "127.0.\(callers.firstIndex { $0.label == caller.label } ?? 0).\(Int.random(in: 2...250))"
                    let client = s.client.with(defaultHeaders: caller.authorization.map { [("Authorization", $0)] } ?? []).from(source)
                    let (method, target, body) = Self.request(route.method, route.path, digest: adapter.digest, job: jobID)
                    let response = try await client.request(method, target, headers: body == nil ? [] : [("Content-Type", "application/json")],
                                                             body: body.map { Array($0.utf8) })
                    let context = "\(caller.label) \(method) \(target): \(response.status) \(response.text.prefix(200))"
                    #expect(response.status != 405 && response.status != 429, "\(context)")
                    let needed: String? = ["open", "metrics"].contains(route.access) ? nil : route.access
                    guard let needed else {
                        #expect(response.status != 401 && response.status != 403, "open route refused: \(context)")
                        continue
                    }
                    switch caller.label {
                    case "none":
                        let problem = try expectProblem(response, status: 401, detailContains: ["scope \(needed)"], context)
                        #expect(problem.type == "/problems/unauthenticated", "\(context)")
                        #expect(response.header("WWW-Authenticate") == "Bearer realm=\"lora-squeeze\"", "\(context)")
                    case "malformed", "basic", "unknown", "revoked", "expired":
                        let problem = try expectProblem(response, status: 401, detailContains: [], context)
                        #expect(problem.type == "/problems/invalid-token", "\(context)")
                        #expect(response.header("WWW-Authenticate") == "Bearer realm=\"lora-squeeze\", error=\"invalid_token\"", "\(context)")
                        let shape = "\(problem.type)|\(problem.title)|\(problem.detail)"
                        if let invalidBody { #expect(shape == invalidBody, "the bad-token answers differ: \(context)") } else { invalidBody = shape }
                    default:
                        let holds = Self.rank[caller.scope ?? ""] ?? -1
                        if holds < Self.rank[needed] ?? 3 {
                            try expectProblem(response, status: 403, detailContains: ["scope \(needed)"], context)
                            #expect(response.header("WWW-Authenticate")?.contains("scope=\"\(needed)\"") == true, "\(context)")
                        } else {
                            #expect(response.status != 401, "\(context)")
                            if response.status == 403 {
                                #expect(caller.namespace != nil, "only a namespace may refuse an allowed scope: \(context)")
                                #expect((try? response.decode(ProblemJSON.self))?.type == "/problems/outside-namespace", "\(context)")
                            }
                            #expect(!(response.status == 404 && response.text.contains("no resource at")), "router 404: \(context)")
                        }
                    }
                }
            }
        }
    }

    /// A concrete request for a route: path parameters filled with things that exist where possible
    /// (the seeded adapter, its job), and a body for the routes that take one. Destructive routes
    /// aim at things whose loss does not matter to the rest of the walk.
    static func request(_ method: String, _ path: String, digest: String, job: String) -> (String, String, String?) {
        var target = path
        let values = ["{namespace}": "team-a", "{digest}": digest, "{file}": "adapter_config.json", "{rank}": "2",
                      "{archive}": "2.tar", "{view}": "r2", "{revision}": "main", "{id}": path.hasPrefix("/v1/jobs") ? job : "0123456789abcdef"]
        for (key, value) in values { target = target.replacingOccurrences(of: key, with: value) }
        let twin = path.contains("{namespace}")
        switch (method, path.hasPrefix("/v1/names") || path.hasPrefix("/v1/base-names")) {
        case ("PUT", true): target = target.replacingOccurrences(of: "{name}", with: twin ? "walk" : "team-a%2Fwalk")
        case ("DELETE", true): target = target.replacingOccurrences(of: "{name}", with: twin ? "gone" : "team-a%2Fgone")
        default: break
        }
        // DELETE of an adapter: a digest nobody has (404 for those allowed), so the walk keeps its adapter.
        let ref = method == "DELETE" && path.hasSuffix("{ref}") ? (twin ? "missing" : String(repeating: "e", count: 64)) : (twin ? "base" : digest)
        target = target.replacingOccurrences(of: "{ref}", with: ref)
        switch (method, path) {
        case ("POST", "/v1/adapters"), ("POST", "/v1/bases"): return (method, target + "?name=team-a/upload", nil)
        case ("PUT", _) where path.hasPrefix("/v1/names"): return (method, target, "{\"adapter\": \"\(digest)\"}")
        case ("PUT", _) where path.hasPrefix("/v1/base-names"): return (method, target, "{\"base\": \"\(digest)\"}")
        case ("POST", "/v1/normalize"): return (method, target, #"{"adapters": ["team-a/base"], "rank": 2}"#)
        case ("POST", "/v1/anneal/plan"): return (method, target, #"{"fromRank": 64, "toRank": 8, "totalSteps": 2000}"#)
        case ("POST", "/v1/extract"): return (method, target, #"{"base": "team-a/none", "tuned": "team-a/none", "rank": 2, "name": "team-a/x"}"#)
        case ("POST", "/v1/tokens"): return (method, target, #"{"name": "walk", "scope": "read", "namespace": "team-a"}"#)
        case ("GET", "/v1/blobs/{digest}"): return (method, target, nil)
        default: return (method, target, nil)
        }
    }
}
