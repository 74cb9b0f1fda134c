import Foundation
import Store
import Testing

/// Tokens (stored as hashes), the audit log, namespace filters and blob visibility in the catalog.
@Suite("Catalog: tokens, audit, namespaces")
struct AdapterCatalogAccessTests {
    func hash(_ text: String) throws -> SHA256Digest { try SHA256.hash(Data(text.utf8)) }

    @Test("a token is found by its hash only; the secret is nowhere in the catalog's files")
    func tokensByHash() throws {
        let f = try CatalogFixture()
        let secret = "lsq_" + String(repeating: "Q", count: 43)
        let record = try f.catalog.createToken(secretHash: try hash(secret), name: "fleet-eu", scope: .read,
                                               namespace: "team-a", expiresAt: nil)
        #expect(record.id.rawValue.count == 16 && record.scope == .read && record.namespace == "team-a")
        #expect(try f.catalog.token(secretHash: try hash(secret)) == record)
        #expect(try f.catalog.token(secretHash: try hash(secret + "x")) == nil)
        #expect(throws: CatalogError.duplicateToken) {
            try f.catalog.createToken(secretHash: try hash(secret), name: "again", scope: .admin, namespace: nil, expiresAt: nil)
        }
        f.catalog.close()
        for file in (try FileManager.default.contentsOfDirectory(atPath: f.directory.path)) where file.hasPrefix("catalog.sqlite") {
            let bytes = try Data(contentsOf: f.directory.appendingPathComponent(file))
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) holds the secret")
            #expect(bytes.range(of: Data(try hash(secret).hex.utf8)) != nil || file != "catalog.sqlite", "the hash is stored")
        }
        try f.reopen()
        #expect(try f.catalog.token(secretHash: try hash(secret))?.id == record.id)
    }

    @Test("names and namespaces of tokens at their bounds and one past")
    func tokenFieldBounds() throws {
        let f = try CatalogFixture()
        var n = 0
        func create(_ name: String, _ namespace: String? = nil) throws {
            n += 1
            try f.catalog.createToken(secretHash: try hash("t\(n)"), name: name, scope: .read, namespace: namespace, expiresAt: nil)
        }
        try create(String(repeating: "n", count: TokenRecord.maxNameBytes))
        #expect(throws: CatalogError.self) { try create(String(repeating: "n", count: TokenRecord.maxNameBytes + 1)) }
        #expect(throws: CatalogError.self) { try create("") }
        #expect(throws: CatalogError.self) { try create("a b") }
        try create("x", String(repeating: "s", count: AdapterName.maxPartLength))
        #expect(throws: CatalogError.self) { try create("x", String(repeating: "s", count: AdapterName.maxPartLength + 1)) }
        for bad in ["a/b", "", ".x", String(repeating: "ab", count: 32)] {
            #expect(throws: CatalogError.self, "\(bad)") { try create("x", bad) }
        }
    }

    @Test("revocation, expiry and the active-admin check")
    func revokeAndExpire() throws {
        let f = try CatalogFixture()
        let now = f.clock.now
        #expect(try !f.catalog.hasActiveAdminToken(at: now))
        let limited = try f.catalog.createToken(secretHash: try hash("a"), name: "a", scope: .admin, namespace: "team-a", expiresAt: nil)
        #expect(try !f.catalog.hasActiveAdminToken(at: now), "a namespace admin is not the server's admin")
        let expiring = try f.catalog.createToken(secretHash: try hash("b"), name: "b", scope: .admin, namespace: nil,
                                                 expiresAt: now.addingTimeInterval(60))
        #expect(try f.catalog.hasActiveAdminToken(at: now))
        #expect(try !f.catalog.hasActiveAdminToken(at: now.addingTimeInterval(60)), "expired at its time")
        #expect(expiring.refusal(at: now.addingTimeInterval(59.9)) == nil)
        #expect(expiring.refusal(at: now.addingTimeInterval(60)) == .expired)
        f.clock.advance(by: 5)
        let revoked = try f.catalog.revokeToken(expiring.id)
        #expect(revoked.revokedAt == f.clock.now && revoked.refusal(at: now) == .revoked)
        f.clock.advance(by: 5)
        #expect(try f.catalog.revokeToken(expiring.id).revokedAt == revoked.revokedAt, "the first revocation time stays")
        #expect(try !f.catalog.hasActiveAdminToken(at: now))
        #expect(throws: CatalogError.unknownToken(limited.id)) { try f.catalog.revokeToken(limited.id, namespace: "team-b") }
        #expect(try f.catalog.token(secretHash: try hash("a"))?.revokedAt == nil, "another namespace cannot revoke it")
        #expect(try f.catalog.tokens(namespace: "team-a").map(\.id) == [limited.id])
        #expect(try f.catalog.tokens().count == 2)
        try f.catalog.recordTokenUses([limited.id: now.addingTimeInterval(100)])
        try f.catalog.recordTokenUses([limited.id: now.addingTimeInterval(50)])
        #expect(try f.catalog.token(secretHash: try hash("a"))?.lastUsedAt == now.addingTimeInterval(100), "last use never goes back")
    }

    @Test("the audit log appends, pages newest first, filters by namespace, cuts long text and prunes")
    func auditLog() throws {
        let f = try CatalogFixture()
        let id = TokenID.random()
        for i in 0..<10 {
            try f.catalog.appendAudit(AuditEntry(time: f.clock.now, tokenID: i == 0 ? nil : id, tokenName: "t", namespace: i % 2 == 0 ? "team-a" : nil,
                                                 action: "POST /x", target: "n=\(i)", status: 200 + i, requestID: "r\(i)"))
        }
        let page = try f.catalog.auditEntries(limit: 3)
        #expect(page.map(\.status) == [209, 208, 207])
        let next = try f.catalog.auditEntries(limit: 3, before: page.last?.sequence)
        #expect(next.map(\.status) == [206, 205, 204])
        #expect(try f.catalog.auditEntries(limit: 1000, namespace: "team-a").map(\.status) == [208, 206, 204, 202, 200])
        #expect(try f.catalog.auditEntries(limit: 1000).last?.tokenID == nil)
        #expect(throws: CatalogError.self) { try f.catalog.auditEntries(limit: 0) }
        #expect(throws: CatalogError.self) { try f.catalog.auditEntries(limit: AdapterCatalog.maxAuditPage + 1) }
        #expect(try f.catalog.auditEntries(limit: AdapterCatalog.maxAuditPage).count == 10)
        try f.catalog.appendAudit(AuditEntry(time: f.clock.now, tokenID: nil, tokenName: nil, namespace: nil, action: "A",
                                             target: String(repeating: "é", count: 2000), status: 1, requestID: "r"))
        let long = try f.catalog.auditEntries(limit: 1)[0].target
        #expect(long.utf8.count == AuditEntry.maxTextBytes && long.allSatisfy { $0 == "é" })
        #expect(try f.catalog.pruneAudit(keep: 4) == 7)
        #expect(try f.catalog.auditEntries(limit: 1000).count == 4)
    }

    @Test("a namespace filter matches names under `namespace/` only, not a longer namespace that starts the same")
    func namespaceListing() throws {
        let f = try CatalogFixture()
        let a = try f.putAdapter("a", name: "team-a/chat")
        _ = try f.putAdapter("ab", name: "team-ab/chat")
        let bare = try f.putAdapter("bare", name: "team-a")
        let both = try f.putAdapter("both", name: "team-b/x")
        try f.catalog.setName(try AdapterName(validating: "team-a/x"), to: .digest(both.digest))
        let page = try f.catalog.list(AdapterQuery(namespace: "team-a"))
        #expect(Set(page.items.map(\.digest)) == [a.digest, both.digest] && page.total == 2)
        #expect(!page.items.contains { $0.digest == bare.digest }, "the bare name team-a is in no namespace")
        #expect(try f.catalog.list(AdapterQuery(namePrefix: "team-a/c", namespace: "team-a")).items.map(\.digest) == [a.digest])
        #expect(try f.catalog.list(AdapterQuery(namePrefix: "team-b", namespace: "team-a")).total == 0, "one name must satisfy both")
    }

    @Test("blobVisible: files of a namespace's adapters and of their cached squeezes, nothing else")
    func blobVisibility() throws {
        let f = try CatalogFixture()
        let mine = try f.putAdapter("mine", name: "team-a/mine")
        let theirs = try f.putAdapter("theirs", name: "team-b/theirs")
        let entry = try f.insertCache(try CacheKey(adapter: mine.digest, rank: 4, options: ""), seed: "s")
        #expect(try f.catalog.blobVisible(mine.weightsBlob, namespace: "team-a"))
        #expect(try f.catalog.blobVisible(try #require(mine.configBlob), namespace: "team-a"))
        #expect(try f.catalog.blobVisible(entry.weightsBlob, namespace: "team-a"))
        #expect(try !f.catalog.blobVisible(theirs.weightsBlob, namespace: "team-a"))
        #expect(try !f.catalog.blobVisible(entry.weightsBlob, namespace: "team-b"))
        #expect(try !f.catalog.blobVisible(mine.weightsBlob, namespace: "team"))
    }

    @Test("a deletion limited to a namespace removes only an adapter whose every name is in it")
    func namespacedDelete() throws {
        let f = try CatalogFixture()
        let shared = try f.putAdapter("shared", name: "team-a/s")
        try f.catalog.setName(try AdapterName(validating: "team-b/s"), to: .digest(shared.digest))
        let own = try f.putAdapter("own", name: "team-a/o")
        #expect(throws: CatalogError.namesOutsideNamespace(shared.digest, namespace: "team-a")) {
            try f.catalog.delete(.digest(shared.digest), onlyIfAllNamesIn: "team-a")
        }
        #expect(try f.catalog.adapter(shared.digest) != nil, "nothing was deleted")
        #expect(try f.catalog.delete(.digest(own.digest), onlyIfAllNamesIn: "team-a").adapter.digest == own.digest)
        #expect(try f.catalog.delete(.digest(shared.digest)).adapter.digest == shared.digest, "an unlimited deletion")
    }
}
