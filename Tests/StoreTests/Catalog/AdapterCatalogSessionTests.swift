import Foundation
import Store
import Testing

/// Dashboard sessions (stored as hashes, ending with their token) and the overview listings.
@Suite("Catalog: sessions and overview listings")
struct AdapterCatalogSessionTests {
    func hash(_ text: String) throws -> SHA256Digest { try SHA256.hash(Data(text.utf8)) }

    @Test("a session is found by its hash, acts as its token, and ends with sign-out, expiry or the token")
    func sessionLifecycle() throws {
        let f = try CatalogFixture()
        let now = f.clock.now
        let token = try f.catalog.createToken(secretHash: try hash("tok"), name: "ui", scope: .write, namespace: "team-a",
                                              expiresAt: now.addingTimeInterval(3600))
        try f.catalog.createSession(secretHash: try hash("s1"), token: token.id, expiresAt: now.addingTimeInterval(600))
        let session = try #require(try f.catalog.session(secretHash: try hash("s1")))
        #expect(session.token == token && session.createdAt == now && session.expiresAt == now.addingTimeInterval(600))
        #expect(session.isValid(at: now) && session.isValid(at: now.addingTimeInterval(599.9)))
        #expect(!session.isValid(at: now.addingTimeInterval(600)), "expired at its time")
        #expect(try f.catalog.session(secretHash: try hash("s2")) == nil)
        #expect(throws: CatalogError.duplicateToken) {
            try f.catalog.createSession(secretHash: try hash("s1"), token: token.id, expiresAt: now)
        }
        let unknown = TokenID.random()
        #expect(throws: CatalogError.unknownToken(unknown)) {
            try f.catalog.createSession(secretHash: try hash("s3"), token: unknown, expiresAt: now)
        }
        // Sign-out.
        #expect(try f.catalog.deleteSession(secretHash: try hash("s1")))
        #expect(try !f.catalog.deleteSession(secretHash: try hash("s1")))
        #expect(try f.catalog.session(secretHash: try hash("s1")) == nil)
        // A revoked token's sessions stop being valid at once, and the sweep removes them.
        try f.catalog.createSession(secretHash: try hash("s4"), token: token.id, expiresAt: now.addingTimeInterval(600))
        try f.catalog.createSession(secretHash: try hash("s5"), token: token.id, expiresAt: now.addingTimeInterval(10))
        #expect(try f.catalog.deleteExpiredSessions(at: now.addingTimeInterval(10)) == 1, "s5 expired")
        try f.catalog.revokeToken(token.id)
        #expect(try f.catalog.session(secretHash: try hash("s4"))?.isValid(at: now) == false)
        #expect(try f.catalog.deleteExpiredSessions(at: now) == 1)
        #expect(try f.catalog.session(secretHash: try hash("s4")) == nil)
        // The secret is not in the catalog, only its hash; sessions survive a restart.
        let other = try f.catalog.createToken(secretHash: try hash("tok2"), name: "ui2", scope: .read, namespace: nil, expiresAt: nil)
        try f.catalog.createSession(secretHash: try hash("s6"), token: other.id, expiresAt: now.addingTimeInterval(600))
        try f.reopen()
        #expect(try f.catalog.session(secretHash: try hash("s6"))?.token.id == other.id)
    }

    @Test("one token holds at most maxSessionsPerToken sessions: the oldest go first")
    func sessionCap() throws {
        let f = try CatalogFixture()
        let token = try f.catalog.createToken(secretHash: try hash("tok"), name: "ui", scope: .read, namespace: nil, expiresAt: nil)
        let cap = AdapterCatalog.maxSessionsPerToken
        for i in 0..<cap {
            f.clock.advance(by: 1)
            try f.catalog.createSession(secretHash: try hash("s\(i)"), token: token.id, expiresAt: f.clock.now.addingTimeInterval(3600))
        }
        #expect(try f.catalog.session(secretHash: try hash("s0")) != nil, "at the cap, all are kept")
        f.clock.advance(by: 1)
        try f.catalog.createSession(secretHash: try hash("s\(cap)"), token: token.id, expiresAt: f.clock.now.addingTimeInterval(3600))
        #expect(try f.catalog.session(secretHash: try hash("s0")) == nil, "one past: the oldest is gone")
        for i in 1...cap { #expect(try f.catalog.session(secretHash: try hash("s\(i)")) != nil, "s\(i)") }
    }

    @Test("jobs newest first by page, by namespace")
    func jobPages() throws {
        let f = try CatalogFixture()
        var ids: [JobID] = []
        for i in 0..<5 {
            f.clock.advance(by: 1)
            ids.append(try f.catalog.createJob(kind: "normalize", request: "{}", total: 1, namespace: i % 2 == 0 ? "team-a" : nil).id)
        }
        let all = try f.catalog.jobs(namespace: nil, limit: 2, offset: 0)
        #expect(all.total == 5 && all.items.map(\.id) == [ids[4], ids[3]] && all.nextOffset == 2)
        let last = try f.catalog.jobs(namespace: nil, limit: 2, offset: 4)
        #expect(last.items.map(\.id) == [ids[0]] && last.nextOffset == nil)
        let team = try f.catalog.jobs(namespace: "team-a", limit: 10, offset: 0)
        #expect(team.total == 3 && team.items.map(\.id) == [ids[4], ids[2], ids[0]])
        #expect(throws: CatalogError.self) { try f.catalog.jobs(namespace: nil, limit: 0, offset: 0) }
        #expect(throws: CatalogError.self) { try f.catalog.jobs(namespace: nil, limit: AdapterQuery.maxLimit + 1, offset: 0) }
        #expect(throws: CatalogError.self) { try f.catalog.jobs(namespace: nil, limit: 1, offset: -1) }
        #expect(try f.catalog.jobs(namespace: nil, limit: AdapterQuery.maxLimit, offset: 0).items.count == 5)
    }

    @Test("cache entries by last use, by namespace; base models with counts; names of many adapters")
    func overview() throws {
        let f = try CatalogFixture()
        let a = try f.putAdapter("a", name: "team-a/chat", baseModel: "gemma")
        let b = try f.putAdapter("b", name: "team-b/chat", baseModel: "gemma")
        let c = try f.putAdapter("c", name: nil, baseModel: "llama")
        _ = try f.putAdapter("d", name: nil, baseModel: nil)
        try f.catalog.setName(try AdapterName(validating: "shared"), to: .digest(a.digest))
        f.clock.advance(by: 1)
        _ = try f.insertCache(try CacheKey(adapter: a.digest, rank: 4, options: ""), seed: "ca")
        f.clock.advance(by: 1)
        _ = try f.insertCache(try CacheKey(adapter: b.digest, rank: 8, options: ""), seed: "cb")
        let page = try f.catalog.cacheEntries(namespace: nil, limit: 10, offset: 0)
        #expect(page.total == 2 && page.items.map(\.key.adapter) == [b.digest, a.digest])
        let teamA = try f.catalog.cacheEntries(namespace: "team-a", limit: 10, offset: 0)
        #expect(teamA.total == 1 && teamA.items.first?.key.rank == 4)
        #expect(try f.catalog.cacheEntries(namespace: "team-c", limit: 10, offset: 0).total == 0)

        let bases = try f.catalog.baseModels(namespace: nil)
        #expect(bases.map(\.baseModel) == ["gemma", "llama"] && bases.map(\.adapters) == [2, 1])
        #expect(try f.catalog.baseModels(namespace: "team-b").map(\.baseModel) == ["gemma"])

        let names = try f.catalog.names(of: [a.digest, b.digest, c.digest, a.digest, try hash("unknown")])
        #expect(names[a.digest]?.map(\.description) == ["shared", "team-a/chat"])
        #expect(names[b.digest]?.map(\.description) == ["team-b/chat"])
        #expect(names[c.digest] == [], "known, without names")
        #expect(names.count == 3, "an unknown digest is absent")
        #expect(try f.catalog.names(of: []).isEmpty)
    }
}
