import Foundation
import Testing
import Store

@Suite("AdapterCatalog: readiness")
struct AdapterCatalogHealthTests {
    @Test("checkWritable passes on a healthy catalog, leaves nothing behind, and fails once closed")
    func checkWritable() throws {
        let fixture = try CatalogFixture()
        try fixture.catalog.checkWritable()
        #expect(fixture.tmpListing.isEmpty)
        #expect(try fixture.catalog.statistics().blobCount == 0)
        fixture.catalog.close()
        #expect(throws: SQLiteError.self) { try fixture.catalog.checkWritable() }
    }
}
