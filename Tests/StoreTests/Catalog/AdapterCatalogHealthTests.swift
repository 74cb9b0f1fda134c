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
        let error = #expect(throws: (any Error).self) { try fixture.catalog.checkWritable() }
        #expect(error.map { "\($0)".contains("closed") } == true, "the backend's closed error")
    }
}
