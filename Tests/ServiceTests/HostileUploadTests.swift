import AdapterFormats
import Foundation
import Testing
import TestSupport

/// Uploads built to crash or exhaust the process, each reproduced byte for byte. Every one must get
/// its 4xx problem, leave the store as it was, and leave the server answering (`withStore` lists the
/// adapters again afterwards).
@Suite("Hostile uploads: the exact problem, the store unchanged, the process alive")
struct HostileUploadTests {
    static func tar(_ bytes: [UInt8]) -> (contentType: String, body: [UInt8]) { ("application/x-tar", bytes) }

    static let cases: [BadUpload] = [
        // The 1.5 KB tar: a pax size of 2^63 − 1 used to overflow `size + 511` and kill the server.
        BadUpload("tar: pax size=9223372036854775807", 400, mentions: ["ends inside"]) {
            tar(try TarFixture.extended("x", Array(TarFixture.paxRecord("size", "9223372036854775807").utf8))
                + TarFixture.file("adapter_model.safetensors", Array("tiny".utf8)) + TarWriter.trailer)
        },
        BadUpload("tar: pax size past Int.max", 400, mentions: ["pax size"]) {
            tar(try TarFixture.extended("x", Array(TarFixture.paxRecord("size", "9223372036854775808").utf8))
                + TarFixture.file("adapter_model.safetensors", [1]) + TarWriter.trailer)
        },
        // A pax record whose length is 2 used to build a backwards range.
        BadUpload("tar: pax record of length 2", 400, mentions: ["pax record"]) {
            tar(try TarFixture.extended("x", Array("2 size=5\n".utf8)) + TarFixture.file("adapter_model.safetensors", [1]) + TarWriter.trailer)
        },
        BadUpload("tar: base-256 size of Int.max", 400, mentions: ["ends inside"]) {
            tar(try TarFixture.base256IntMaxEntry("adapter_model.safetensors", data: [UInt8](repeating: 7, count: 1024)))
        },
        BadUpload("tar: a 4 GiB global pax header", 400, mentions: ["exceeds"]) {
            tar(try TarFixture.extended("g", [], declaredSize: 1 << 32))
        },
    ]

    @Test("refused, stored nothing, still serving", arguments: cases)
    func refused(_ bad: BadUpload) async throws {
        let (type, body) = try bad.make()
        try await BadInputTests.withStore { s in
            let response = try await s.upload(contentType: type, body: body, query: bad.query)
            try expectProblem(response, status: bad.status, detailContains: bad.mentions, bad.label)
            #expect(try await s.get("/healthz").status == 200)
        }
    }
}
