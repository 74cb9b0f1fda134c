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
        let error = #expect(throws: WriteCheckFailure.self) { try fixture.catalog.checkWritable() }
        #expect(error?.part == .catalog)
        #expect(error.map { "\($0.underlying)".contains("closed") } == true, "the backend's closed error")
    }

    @Test("a blob store that refuses the temp file is named as the part that failed")
    func blobStoreRefuses() throws {
        let fixture = try CatalogFixture()
        let tmp = fixture.catalog.blobs.temporaryDirectory
        try FileManager.default.removeItem(at: tmp)
        try Data().write(to: tmp)   // a file where the temp directory was: mkstemp fails, even for root
        let error = #expect(throws: WriteCheckFailure.self) { try fixture.catalog.checkWritable() }
        #expect(error?.part == .blobStore)
        #expect(error.map { "\($0)".hasPrefix("the blob store does not take writes: ") } == true)
    }
}
