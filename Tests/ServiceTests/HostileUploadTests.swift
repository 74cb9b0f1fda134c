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
        // A rank pattern key that backtracking regex engines (Python's re, Swift's Regex) take
        // exponential time on: not refused, answered at once — its syntax is fine — but this one
        // also says the wrong rank, which is refused by name.
        BadUpload("rank_pattern key (a+)+ matching nothing here: an r that disagrees with the tensors", 422, mentions: ["rank"]) {
            BadInputTests.multipart(try BadInputTests.withConfig(["r": .number(6), "rank_pattern": .object(["(a+)+": .number(4)])]))
        },
        BadUpload("rank_pattern key with a lookahead", 422, mentions: ["rank_pattern", "lookahead", "not supported"]) {
            BadInputTests.multipart(try BadInputTests.withConfig(["rank_pattern": .object(["q(?=_proj)": .number(4)])]))
        },
        BadUpload("adapter_config.json with lora_alpha twice", 422, mentions: ["lora_alpha", "twice"]) {
            let files = try BadInputTests.good()
            var text = String(decoding: files.config, as: UTF8.self)
            text = text.replacingOccurrences(of: "\"lora_alpha\"", with: "\"lora_alpha\" : 99, \"lora_alpha\"")
            return BadInputTests.multipart(PEFTUpload(config: Array(text.utf8), weights: files.weights))
        },
        BadUpload("adapter_config.json nested 100,000 deep", 422, mentions: ["nests"]) {
            let deep = "{\"r\": 4, \"x\": " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
            return BadInputTests.multipart(PEFTUpload(config: Array(deep.utf8), weights: try BadInputTests.good().weights))
        },
        // 8 KiB of factors that would cost 1e10 operations to validate.
        BadUpload("eight rank-512 modules of 1×1", 422, mentions: ["validating this adapter"]) {
            let modules = (0..<8).map { AdapterFixture.Module("model.layers.\($0).q_proj", out: 1, in: 1, rank: 512) }
            return BadInputTests.multipart(try ServiceFixtures.peft(seed: 9, modules: modules, rank: 512, alpha: 512))
        },
        BadUpload("a module of rank 4097", 422, mentions: ["4097", "maxRank"]) {
            let m = AdapterFixture.Module("model.layers.0.q_proj", out: 1, in: 1, rank: 4097)
            return BadInputTests.multipart(try ServiceFixtures.peft(seed: 9, modules: [m], rank: 4097, alpha: 1))
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
