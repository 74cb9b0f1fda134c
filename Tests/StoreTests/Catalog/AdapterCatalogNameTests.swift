import Foundation
import Testing
import Store

@Suite("AdapterCatalog: names")
struct AdapterCatalogNameTests {
    @Test("setName creates a tag, moves it, and reports where it pointed")
    func moveTag() throws {
        let fixture = try CatalogFixture()
        let v1 = try fixture.putAdapter("v1")
        let v2 = try fixture.putAdapter("v2")
        let latest = try AdapterName(validating: "latest")
        #expect(try fixture.catalog.setName(latest, to: .digest(v1.digest)) == nil)
        #expect(try fixture.catalog.resolve("latest").digest == v1.digest)
        #expect(try fixture.catalog.setName(latest, to: .digest(v2.digest)) == v1.digest)
        #expect(try fixture.catalog.resolve("latest").digest == v2.digest)
        #expect(try fixture.catalog.names(of: v1.digest).isEmpty)
        #expect(try fixture.catalog.names(of: v2.digest) == [latest])
        // A name can point at whatever another name points at.
        let stable = try AdapterName(validating: "stable")
        try fixture.catalog.setName(stable, to: .name(latest))
        #expect(try fixture.catalog.resolve("stable").digest == v2.digest)
    }

    @Test("names at the length bound work end to end")
    func longName() throws {
        let fixture = try CatalogFixture()
        let long = String(repeating: "L", count: AdapterName.maxPartLength)
        let record = try fixture.putAdapter("long", name: long)
        #expect(try fixture.catalog.resolve(long).digest == record.digest)
        #expect(throws: CatalogError.self) { try fixture.catalog.resolve(long + "L") }
    }

    @Test("setName to an unknown adapter is refused and creates nothing")
    func unknownTarget() throws {
        let fixture = try CatalogFixture()
        let nobody = try SHA256.hash(Data("nobody".utf8))
        #expect(throws: CatalogError.unknownReference(nobody.hex)) {
            try fixture.catalog.setName(AdapterName(validating: "dangling"), to: .digest(nobody))
        }
        #expect(throws: CatalogError.unknownReference("missing")) {
            try fixture.catalog.setName(AdapterName(validating: "dangling"), to: .name(AdapterName(validating: "missing")))
        }
        #expect(throws: CatalogError.unknownReference("dangling")) { try fixture.catalog.resolve("dangling") }
    }

    @Test("removeName drops the tag and keeps the adapter")
    func removeName() throws {
        let fixture = try CatalogFixture()
        let record = try fixture.putAdapter("keep", name: "temporary")
        let name = try AdapterName(validating: "temporary")
        #expect(try fixture.catalog.removeName(name) == record.digest)
        #expect(try fixture.catalog.removeName(name) == nil)
        #expect(try fixture.catalog.adapter(record.digest) != nil)
        #expect(throws: CatalogError.unknownReference("temporary")) { try fixture.catalog.resolve("temporary") }
    }
}
