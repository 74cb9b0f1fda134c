import AdapterFormats
import Foundation
import Testing
import Service
import TestSupport

@Suite("Bad input: the right 4xx problem, and the store unchanged")
struct BadInputTests {
    /// Runs `body` against a service holding one small adapter named "base" (PEFT, one module; or kohya
    /// at rank 2, which has no config), then checks nothing changed: the same adapters and names, the
    /// same blob files, no temporary files, no cache entries.
    static func withStore(kohyaBase: Bool = false, _ customize: (inout ServiceConfiguration) -> Void = { _ in },
                          _ body: (RunningService) async throws -> Void) async throws {
        let peft = try ServiceFixtures.peft(seed: 151, modules: [module], rank: module.rank, alpha: 8)
        let kohya = try ServiceFixtures.kohya(seed: 151, rank: 2, alpha: 2)
        try await ServiceHarness.with(customize) { s in
            if kohyaBase { try await s.uploadKohya(kohya, name: "base") } else { try await s.uploadPEFT(peft, name: "base") }
            let before = try await s.list()
            let blobs = s.blobFiles()
            try await body(s)
            let after = try await s.list()
            #expect(after.total == before.total && after.items.map(\.digest) == before.items.map(\.digest), "adapters changed")
            #expect(after.items.map(\.names) == before.items.map(\.names), "names changed: \(after.items.map(\.names))")
            #expect(s.blobFiles() == blobs, "blobs changed: new \(s.blobFiles().subtracting(blobs)), gone \(blobs.subtracting(s.blobFiles()))")
            #expect(s.temporaryFiles().isEmpty, "temporary files left: \(s.temporaryFiles())")
            #expect(try await s.metrics().value("lora_squeeze_cache_entries") == 0)
        }
    }

    @Test("a refused upload stores nothing", arguments: uploads)
    func refusedUpload(_ bad: BadUpload) async throws {
        let (type, body) = try bad.make()
        try await Self.withStore { s in
            let response = try await s.upload(contentType: type, body: body, query: bad.query)
            try expectProblem(response, status: bad.status, detailContains: bad.mentions, bad.label)
        }
    }

    @Test("an upload over maxUploadBytes is 413, announced by Content-Length or found while reading chunks")
    func oversize() async throws {
        let files = try ServiceFixtures.peft(seed: 152)
        let (type, body) = Self.multipart(files)
        try #require(body.count > 4096)
        try await Self.withStore({ $0.limits.maxUploadBytes = 4096 }) { s in
            let declared = try await s.upload(contentType: type, body: body)
            try expectProblem(declared, status: 413, "Content-Length past the limit")
            let chunked = try await s.client.request("POST", "/v1/adapters", headers: [("Content-Type", type)], body: body, chunkSize: 1000)
            try expectProblem(chunked, status: 413, "chunked past the limit")
            // One byte under the limit is read (and refused for what it is, not its size).
            let small = try await s.upload(contentType: "application/octet-stream", body: [UInt8](repeating: 0, count: 4095))
            try expectProblem(small, status: 422, "under the limit")
        }
    }

    @Test("an adapter_config.json over maxConfigBytes is 413")
    func oversizeConfig() async throws {
        let files = try ServiceFixtures.peft(seed: 153)
        try await Self.withStore(kohyaBase: true, { $0.limits.maxConfigBytes = 64 }) { s in
            try #require(files.config.count > 64)
            let (type, body) = Self.multipart(files)
            try expectProblem(try await s.upload(contentType: type, body: body), status: 413, detailContains: ["adapter_config.json"], "config")
        }
    }

    static let squeezeRequests: [BadRequest] = {
        let file = "adapter_model.safetensors"
        let zeros = String(repeating: "0", count: 64)
        return [
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/0/\(file)", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/-1/\(file)", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/abc/\(file)", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/1e1/\(file)", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/65/\(file)", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/99999999999999999999/\(file)", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/0.tar", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/65.tar", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/4.zip", status: 404),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/4/adapter_model.bin", status: 404),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/4/..%2Fadapter_config.json", status: 404),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/4/\(file)?method=qr", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/4/\(file)?dtype=f64", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/4/\(file)?energy=0", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/4/\(file)?energy=1.5", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/4/\(file)?oversample=-1", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/squeezed/4/\(file)?seed=x", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/nope/squeezed/4/\(file)", status: 404),
            BadRequest(method: "GET", target: "/v1/adapters/\(zeros)/squeezed/4/\(file)", status: 404),
            BadRequest(method: "GET", target: "/v1/adapters/\(zeros)/squeezed/4.tar", status: 404),
            BadRequest(method: "GET", target: "/v1/adapters/%2e%2e/squeezed/4/\(file)", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/a%2Fb%2Fc/squeezed/4/\(file)", status: 400),
            BadRequest(method: "GET", target: "/v1/adapters/base/delta.safetensors?rank=65", status: 400),
        ]
    }()

    @Test("bad squeeze URLs: rank 0 or above maxRank, bad options, unknown refs; nothing is computed",
          arguments: squeezeRequests)
    func refusedSqueeze(_ bad: BadRequest) async throws {
        try await Self.withStore({ $0.limits.maxRank = 64 }) { s in
            let response = try await s.client.request(bad.method, bad.target)
            try expectProblem(response, status: bad.status, bad.testDescription)
            #expect(try await s.metrics().value("lora_squeeze_squeezed_modules_total") == 0)
        }
    }

    static let referenceRequests: [BadRequest] = {
        var out: [BadRequest] = []
        let refs: [(String, Int)] = [
            ("nope", 404), (String(repeating: "0", count: 64), 404), ("%2e%2e", 400), ("..", 400), (".hidden", 400),
            ("a%2Fb%2Fc", 400), ("a%2Fb", 404), ("a%00b", 400), (String(repeating: "n", count: 129), 400), ("%ff", 400),
        ]
        for (ref, status) in refs {
            for suffix in ["", "/files/adapter_model.safetensors", "/delta.safetensors", "/spectrum", "/spectrum.svg"] {
                out.append(BadRequest(method: "GET", target: "/v1/adapters/\(ref)\(suffix)", status: status))
            }
            out.append(BadRequest(method: "DELETE", target: "/v1/adapters/\(ref)", status: status))
        }
        // "%ff" does not decode to UTF-8, so no route matches it at all.
        return out.map { $0.target.contains("%ff") ? BadRequest(method: $0.method, target: $0.target, status: 404) : $0 }
    }()

    @Test("unknown and malformed refs on every adapter route: 404 or 400", arguments: referenceRequests)
    func refusedReference(_ bad: BadRequest) async throws {
        try await Self.withStore { s in
            try expectProblem(try await s.client.request(bad.method, bad.target), status: bad.status, bad.testDescription)
        }
    }

    static let nameRequests: [BadRequest] = [
        BadRequest(method: "PUT", target: "/v1/names/..", status: 400, body: "{\"adapter\": \"base\"}"),
        BadRequest(method: "PUT", target: "/v1/names/%2e%2e", status: 400, body: "{\"adapter\": \"base\"}"),
        BadRequest(method: "PUT", target: "/v1/names/a%2Fb%2Fc", status: 400, body: "{\"adapter\": \"base\"}"),
        BadRequest(method: "PUT", target: "/v1/names/a/b/c", status: 404, body: "{\"adapter\": \"base\"}"),
        BadRequest(method: "PUT", target: "/v1/names/a/files", status: 400, body: "{\"adapter\": \"base\"}"),
        BadRequest(method: "PUT", target: "/v1/names/" + String(repeating: "n", count: 129), status: 400, body: "{\"adapter\": \"base\"}"),
        BadRequest(method: "PUT", target: "/v1/names/" + String(repeating: "ab", count: 32), status: 400, body: "{\"adapter\": \"base\"}"),
        BadRequest(method: "PUT", target: "/v1/names/-x", status: 400, body: "{\"adapter\": \"base\"}"),
        BadRequest(method: "PUT", target: "/v1/names/good", status: 404, body: "{\"adapter\": \"nope\"}"),
        BadRequest(method: "PUT", target: "/v1/names/good", status: 400, body: "{\"adapter\": \"..\"}"),
        BadRequest(method: "PUT", target: "/v1/names/good", status: 400, body: "{\"digest\": \"base\"}"),
        BadRequest(method: "PUT", target: "/v1/names/good", status: 400, body: ""),
        BadRequest(method: "DELETE", target: "/v1/names/..", status: 400),
        BadRequest(method: "DELETE", target: "/v1/names/unknown", status: 404),
    ]

    @Test("bad tag names and targets: 400 or 404, and no name moves", arguments: nameRequests)
    func refusedName(_ bad: BadRequest) async throws {
        try await Self.withStore { s in
            let response = try await s.client.request(bad.method, bad.target, headers: [("Content-Type", "application/json")],
                                                      body: bad.body.map { Array($0.utf8) })
            try expectProblem(response, status: bad.status, bad.testDescription)
            #expect(try await s.get("/v1/adapters/good").status == 404)
        }
    }
}
