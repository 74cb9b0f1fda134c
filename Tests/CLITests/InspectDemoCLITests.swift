import AdapterFormats
import Foundation
import Testing
import TestSupport

@Suite("lora-squeeze inspect and demo (subprocess)")
struct InspectDemoCLITests {
    @Test("inspect --json parses; energies lie in (0, 1], never decrease, and reach 1 at k = r")
    func inspectJSON() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-inspect")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try CLIFixture.peft(in: dir, dtype: .bf16)
        let r = try await CLIRunner.succeed(["inspect", src.path, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "peft")
        #expect(object["baseModel"] as? String == "fixture/model")
        let modules = try #require(object["modules"] as? [[String: Any]])
        #expect(modules.compactMap { $0["name"] as? String } == CLIFixture.modules.map(\.name))
        for (m, fixture) in zip(modules, CLIFixture.modules) {
            let name = fixture.name
            #expect(m["rank"] as? Int == fixture.rank, "\(name)")
            #expect(m["outFeatures"] as? Int == fixture.out && m["inFeatures"] as? Int == fixture.inFeatures, "\(name)")
            #expect(m["dtype"] as? String == "BF16")
            let ranks = try #require(m["ranks"] as? [Int])
            let energy = try #require(m["energy"] as? [Double])
            #expect(ranks.count == energy.count && !ranks.isEmpty)
            #expect(ranks.last == fixture.rank, "\(name): ranks \(ranks)")
            #expect(energy.last == 1, "\(name): energy \(energy)")
            #expect(energy.allSatisfy { $0 > 0 && $0 <= 1 }, "\(name): energy \(energy)")
            #expect(zip(energy, energy.dropFirst()).allSatisfy { $0 <= $1 }, "\(name): energy decreases \(energy)")
            // Energy at k recomputed from the reported singular values.
            let s = try #require(m["singularValues"] as? [Double])
            let total = s.reduce(0) { $0 + $1 * $1 }
            for (k, e) in zip(ranks, energy) {
                let kept = s.prefix(k).reduce(0) { $0 + $1 * $1 } / total
                #expect(abs(kept - e) <= 1e-12, "\(name) E@\(k)")
            }
        }
        // The v_proj scale is alpha/r = 32/4, fc1's 24/12 (alpha_pattern).
        #expect(modules[1]["scale"] as? Double == 8)
        #expect(modules[3]["scale"] as? Double == 2)
        let candidates = try #require(object["candidates"] as? [[String: Any]])
        #expect(candidates.compactMap { $0["rank"] as? Int } == [1, 2, 4, 8, 16])
        #expect(candidates.last?["minEnergy"] as? Double == 1)
    }

    @Test("inspect prints a table naming each module")
    func inspectTable() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-inspect-table")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try CLIFixture.kohya(in: dir)
        let r = try await CLIRunner.succeed(["inspect", src.path])
        #expect(r.stdout.hasPrefix("format: kohya"))
        #expect(r.stdout.contains("lora_unet_down_blocks_0_resnets_0_conv1"))
        #expect(r.stdout.contains("conv"))
    }

    @Test("inspect of a missing file fails naming it")
    func inspectMissing() async throws {
        let r = try await CLIRunner.run(["inspect", "/nonexistent/lora-squeeze-test/adapter"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("/nonexistent/lora-squeeze-test/adapter"), "\(r.stderr)")
    }

    @Test("demo --data DIR writes a demo adapter and its squeezed form")
    func demo() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-demo")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try await CLIRunner.succeed(["demo", "--data", dir.path])
        #expect(r.stdout.contains("wrote a demo adapter"))
        let source = try LoRAAdapter.load(at: dir.appendingPathComponent("demo/source"))
        let squeezed = try LoRAAdapter.load(at: dir.appendingPathComponent("demo/rank-8"))
        #expect(source.modules.count == 10)
        #expect(Set(source.modules.map(\.rank)) == [16, 32])
        #expect(squeezed.modules.map(\.name) == source.modules.map(\.name))
        #expect(squeezed.modules.allSatisfy { $0.rank == 8 && $0.scale == 1 })
        #expect(squeezed.peftConfig?.rank == 8 && squeezed.peftConfig?.alpha == 8)
        // Run twice: the second run replaces the first.
        try await CLIRunner.succeed(["demo", "--data", dir.path, "--rank", "16"])
        #expect(try LoRAAdapter.load(at: dir.appendingPathComponent("demo/rank-16")).modules.allSatisfy { $0.rank == 16 })
    }
}
