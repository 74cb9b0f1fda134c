import AdapterFormats
import Foundation
@testable import Service
import Store
import Testing
import TestSupport

@Suite("delta.safetensors and spectra, checked against loops and a dense SVD")
struct DeltaAndSpectrumTests {
    @Test("delta.safetensors holds s·B·A for every module under delta.<weight>; ?rank=R holds the squeezed factors' product")
    func delta() async throws {
        let files = try ServiceFixtures.mixed(seed: 61)
        let source = try files.adapter()
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files, name: "merge-me").digest
            let response = try await s.get("/v1/adapters/\(digest)/delta.safetensors")
            try #require(response.status == 200, "\(response.text)")
            #expect(response.header("Content-Type") == "application/octet-stream")
            let delta = try SafetensorsFile(bytes: response.body)
            #expect(delta.tensors.allSatisfy { $0.dtype == .f32 }, "F32 in, F32 out")
            try ServedCheck.delta(delta, reference: source)
            #expect(delta.header.metadata?["lora_squeeze.kind"] == "delta", "\(String(describing: delta.header.metadata))")

            let etag = try #require(response.header("ETag"))
            #expect(try await s.get("/v1/adapters/\(digest)/delta.safetensors", headers: [("If-None-Match", etag)]).status == 304)
            #expect(etag == "\"" + (try SHA256.hash(response.body)).hex + "\"", "the ETag is the content's SHA-256")
            #expect(response.header("Cache-Control") == "no-cache", "computed: a recompute may differ, so it revalidates")
            #expect(try await s.get("/v1/adapters/merge-me/delta.safetensors").header("Cache-Control") == "no-cache")

            // The squeezed form: the product of the served rank-4 factors (scale 1), which is itself the
            // best rank-4 approximation of s·B·A.
            let squeezed = try await s.get("/v1/adapters/\(digest)/squeezed/4/adapter_model.safetensors")
            let config = try await s.get("/v1/adapters/\(digest)/squeezed/4/adapter_config.json")
            let written = try LoRAAdapter.peft(config: try PEFTConfig(json: Data(config.body)),
                                               weights: try SafetensorsFile(bytes: squeezed.body))
            let ranked = try await s.get("/v1/adapters/\(digest)/delta.safetensors?rank=4")
            try #require(ranked.status == 200, "\(ranked.text)")
            let rankedFile = try SafetensorsFile(bytes: ranked.body)
            try ServedCheck.delta(rankedFile, reference: written)
            #expect(ranked.header("ETag") != etag)
            // And it is not the full update: the rank-4 truncation drops σ₅…σ₈, far above rounding.
            let first = try #require(source.modules.first { $0.kind == .linear && $0.rank > 4 })
            let (a, b) = try source.factors(of: first)
            let full = ReferenceMath.product(b: b, a: a, out: first.outFeatures, rank: first.rank, in: first.inFeatures, scale: first.scale)
            let served = try rankedFile.floats(named: "delta." + first.name + ".weight").map(Double.init)
            #expect(ReferenceMath.frobenius(served, minus: full) > 1e-3 * ReferenceMath.frobenius(full))

            let bf16 = try await s.get("/v1/adapters/\(digest)/delta.safetensors?dtype=bf16")
            try #require(bf16.status == 200)
            let bf16File = try SafetensorsFile(bytes: bf16.body)
            #expect(bf16File.tensors.allSatisfy { $0.dtype == .bf16 })
            // BF16 rounds each element once: relative error 2⁻⁹ per element, so 4e-3 of the norm.
            try ServedCheck.delta(bf16File, reference: source, tolerance: 4e-3)

            try expectProblem(try await s.get("/v1/adapters/\(digest)/delta.safetensors?method=rsvd"), status: 400,
                              detailContains: ["rank"], "squeeze option without a rank")
            try expectProblem(try await s.get("/v1/adapters/\(digest)/delta.safetensors?rank=0"), status: 400, "rank 0")
            try expectProblem(try await s.get("/v1/adapters/\(digest)/delta.safetensors?dtype=f64"), status: 400, "dtype f64")
        }
    }

    @Test("spectrum has every module's singular values, equal to a dense SVD of s·B·A")
    func spectrum() async throws {
        let files = try ServiceFixtures.mixed(seed: 62)
        let source = try files.adapter()
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files).digest
            let response = try await s.get("/v1/adapters/\(digest)/spectrum")
            try #require(response.status == 200, "\(response.text)")
            #expect(response.header("Content-Type") == "application/json")
            let spectrum = try response.decode(SpectrumJSON.self)
            #expect(spectrum.digest == digest)
            #expect(Set(spectrum.modules.map(\.name)) == Set(source.modules.map(\.name)))
            for m in source.modules {
                let served = try #require(spectrum.modules.first { $0.name == m.name })
                let dense = try DenseUpdate(adapter: source, module: m).singularValues
                #expect(served.rank == m.rank)
                try #require(served.singularValues.count == m.rank, "\(m.name): \(served.singularValues.count) values")
                // Both come from double arithmetic on the same F32 factors; 1e-6·σ₁ is the engine's own
                // spectrum tolerance (FactoredSVDTests) and far below the gaps of these decaying spectra.
                for (i, sigma) in served.singularValues.enumerated() {
                    #expect(abs(sigma - dense[i]) <= 1e-6 * dense[0], "\(m.name) σ\(i + 1): served \(sigma), dense \(dense[i])")
                }
            }

            let svg = try await s.get("/v1/adapters/\(digest)/spectrum.svg")
            #expect(svg.status == 200)
            #expect(svg.header("Content-Type") == "image/svg+xml")
            #expect(svg.text.contains("<svg") && svg.text.hasSuffix("</svg>\n"))
            #expect(svg.text.contains("\(source.modules.count) modules"))
            // By digest it names only the digest, so it can be immutable; by name it shows the name,
            // which can move, so it revalidates. Either way the ETag is the SVG's SHA-256.
            #expect(svg.header("Cache-Control") == "public, max-age=31536000, immutable")
            #expect(!svg.text.contains("plotted"), "no name in the digest-addressed plot")
            #expect(svg.header("ETag") == "\"" + (try SHA256.hash(svg.body)).hex + "\"")
            #expect(try await s.get("/v1/adapters/\(digest)/spectrum.svg", headers: [("If-None-Match", svg.header("ETag") ?? "")]).status == 304)
            #expect(try await s.client.send("PUT", "/v1/names/plotted", json: "{\"adapter\": \"\(digest)\"}").status == 201)
            let named = try await s.get("/v1/adapters/plotted/spectrum.svg")
            #expect(named.text.contains("plotted") && named.header("Cache-Control") == "no-cache")
        }
    }

    @Test("merged.safetensors, the delta's former name, answers 301 to delta.safetensors with the query, in both path forms")
    func formerNameMoved() async throws {
        let files = try ServiceFixtures.peft(seed: 1201)
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(files, name: "team-a/moved").digest
            for (path, query) in [("/v1/adapters/\(digest)/merged.safetensors", "?rank=4&dtype=bf16"),
                                  ("/v1/adapters/team-a/moved/merged.safetensors", ""),
                                  ("/v1/adapters/team-a%2Fmoved/merged.safetensors", "?rank=2")] {
                let moved = try await s.get(path + query)
                #expect(moved.status == 301, "\(path): \(moved.status) \(moved.text.prefix(200))")
                let location = "delta.safetensors" + query
                #expect(moved.header("Location") == location && moved.header("Link") == "<\(location)>; rel=\"successor-version\"")
                #expect(moved.text.contains("delta.<base weight name>"), "\(moved.text)")
                // Followed as a client resolves a relative reference: the delta, under its new names.
                let target = String(path.dropLast("merged.safetensors".count)) + location
                let followed = try await s.get(target)
                #expect(followed.status == 200, "\(target): \(followed.text.prefix(200))")
                #expect(try SafetensorsFile(bytes: followed.body).tensors.allSatisfy { $0.name.hasPrefix("delta.") })
            }
            // Read scope, like the route it replaces; a bad or unknown adapter is not redirected.
            #expect(try await s.anonymous.get("/v1/adapters/\(digest)/merged.safetensors").status == 401)
            try expectProblem(try await s.get("/v1/adapters/team-a/nothing/merged.safetensors"), status: 404, "unknown")
            try expectProblem(try await s.get("/v1/adapters/-bad/merged.safetensors"), status: 400, "invalid name")
        }
    }

    @Test("a name made before delta.safetensors was reserved stays readable, removable and in its one-segment form")
    func nameReservedLater() async throws {
        try await ServiceHarness.with { s in
            let digest = try await s.uploadPEFT(try ServiceFixtures.peft(seed: 1202)).digest
            // As an older catalog holds it: written when the word was not reserved.
            let old = try AdapterName(stored: "team-a/delta.safetensors")
            _ = try s.service.catalog.setName(old, to: .digest(try #require(SHA256Digest(digest))))
            let described = try await s.get("/v1/adapters/team-a%2Fdelta.safetensors")
            #expect(described.status == 200 && described.text.contains("team-a/delta.safetensors"), "\(described.text.prefix(200))")
            #expect(try await s.get("/v1/adapters/\(digest)").text.contains("team-a/delta.safetensors"), "listed among its names")
            // The two-segment form is the delta of an adapter named team-a (there is none).
            try expectProblem(try await s.get("/v1/adapters/team-a/delta.safetensors"), status: 404, "team-a's delta")
            // No new name may take the word; the old one can be removed.
            try expectProblem(try await s.client.send("PUT", "/v1/names/team-a%2Fdelta.safetensors", json: "{\"adapter\": \"\(digest)\"}"),
                              status: 400, detailContains: ["delta.safetensors"])
            #expect(try await s.client.request("DELETE", "/v1/names/team-a%2Fdelta.safetensors").status == 204)
            #expect(try await s.get("/v1/adapters/team-a%2Fdelta.safetensors").status == 404)
        }
    }
}
