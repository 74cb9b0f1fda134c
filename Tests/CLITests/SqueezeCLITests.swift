import AdapterFormats
import Foundation
import SqueezeEngine
import Testing
import TestSupport

@Suite("lora-squeeze squeeze (subprocess)")
struct SqueezeCLITests {
    @Test("the executable is found beside the test bundle")
    func executableFound() async throws {
        let exe = try #require(CLIRunner.executable)
        let r = try await CLIRunner.succeed(["--version"])
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0", "\(exe.path)")
    }

    @Test("PEFT at mixed ranks → every module at R, scale 1, the same factors the library computes")
    func peftMixedRanks() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-peft")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try CLIFixture.peft(in: dir)
        let out = dir.appendingPathComponent("squeezed")
        let r = try await CLIRunner.succeed(["squeeze", src.path, "--rank", "8", "--out", out.path, "--method", "exact"])
        #expect(r.stdout.contains("squeezed 4 modules (peft) to rank 8"), "\(r.stdout)")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: out.path)) == [PEFTFiles.config, PEFTFiles.weights])

        let written = try LoRAAdapter.load(at: out)
        let config = try #require(written.peftConfig)
        #expect(config.rank == 8 && config.alpha == 8 && config.rankPattern.isEmpty && config.alphaPattern.isEmpty)
        #expect(written.modules.map(\.name) == CLIFixture.modules.map(\.name))
        #expect(written.modules.map(\.rank) == [8, 8, 8, 8])
        #expect(written.modules.map(\.scale) == [1, 1, 1, 1])
        #expect(written.modules.allSatisfy { $0.dtype == .f32 })

        // The CLI must run the squeeze the library runs for these options (whose optimality the engine
        // tests check against a dense SVD): compare the products B'A', F32 both sides, at 1e-5 relative
        // (two runs of the same double-precision computation; only BLAS summation order may differ).
        let source = try LoRAAdapter.load(at: src)
        let library = try AdapterSqueezer(module: ModuleSqueezer(method: .exact, policy: .fixed(8)), deploymentRank: 8)
            .squeeze(source)
        let expected = try LoRAAdapter.peft(config: try #require(library.output.configJSON.map { try PEFTConfig(json: $0) }),
                                            weights: try SafetensorsFile(bytes: try library.output.weightsBytes()))
        for (w, e) in zip(written.modules, expected.modules) {
            let (wa, wb) = try written.factors(of: w)
            let (ea, eb) = try expected.factors(of: e)
            let x = ReferenceMath.product(b: wb, a: wa, out: w.outFeatures, rank: 8, in: w.inFeatures)
            let y = ReferenceMath.product(b: eb, a: ea, out: e.outFeatures, rank: 8, in: e.inFeatures)
            #expect(ReferenceMath.frobenius(x, minus: y) <= 1e-5 * ReferenceMath.frobenius(y), "\(w.name)")
        }
        // Zero padding of v_proj (rank 4 < 8): rows 4…7 of A' are zero.
        let v = written.modules[1]
        #expect(try written.factors(of: v).a[(4 * v.inFeatures)...].allSatisfy { $0 == 0 })
    }

    @Test("a kohya file with a conv layer: the output file has the input's name and 4-D conv factors at R")
    func kohyaConv() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-kohya")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try CLIFixture.kohya(in: dir)
        let out = dir.appendingPathComponent("out")
        let r = try await CLIRunner.succeed(["squeeze", src.path, "--rank", "4", "--out", out.path])
        #expect(r.stdout.contains("squeezed 3 modules (kohya) to rank 4"), "\(r.stdout)")
        #expect(r.stderr.contains("warning: vLLM's max_lora_rank"), "rank 4 is not a vLLM max_lora_rank: \(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["style_v2.safetensors"])
        let written = try LoRAAdapter.load(at: out.appendingPathComponent("style_v2.safetensors"))
        #expect(written.modules.map(\.rank) == [4, 4, 4])
        #expect(written.modules.map(\.scale) == [1, 1, 1])
        let conv = try #require(written.modules.first { $0.kind == .conv })
        #expect(conv.aTensor.shape == [4, 8, 3, 3] && conv.bTensor.shape == [24, 4, 1, 1])
        #expect(conv.dtype == .f16)                                   // the input's dtype
        #expect(try written.weights.floats(named: conv.key + ".alpha") == [4])
        #expect(written.metadata?["ss_network_dim"] == "4")
    }

    @Test("--dtype bf16 writes every factor in BF16")
    func dtypeBF16() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-bf16")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try CLIFixture.peft(in: dir)
        let out = dir.appendingPathComponent("out")
        try await CLIRunner.succeed(["squeeze", src.path, "--rank", "8", "--out", out.path, "--dtype", "bf16"])
        let file = try SafetensorsFile(contentsOf: out.appendingPathComponent(PEFTFiles.weights))
        #expect(file.tensors.count == 8)
        #expect(file.tensors.allSatisfy { $0.dtype == .bf16 })
    }

    @Test("--method rsvd --seed 1 twice gives byte-identical outputs")
    func rsvdReproducible() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-rsvd")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try CLIFixture.peft(in: dir)
        let first = dir.appendingPathComponent("one"), second = dir.appendingPathComponent("two")
        for out in [first, second] {
            try await CLIRunner.succeed(["squeeze", src.path, "--rank", "8", "--out", out.path, "--method", "rsvd", "--seed", "1"])
        }
        let a = try CLIFixture.files(under: first), b = try CLIFixture.files(under: second)
        #expect(Set(a.keys) == [PEFTFiles.config, PEFTFiles.weights])
        #expect(a == b)
    }

    @Test("--energy 0.9 --no-pad: per-module ranks in rank_pattern/alpha_pattern, every scale 1 on re-reading")
    func energyNoPad() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-energy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try CLIFixture.peft(in: dir)
        let out = dir.appendingPathComponent("out")
        let r = try await CLIRunner.succeed(["squeeze", src.path, "--energy", "0.9", "--no-pad", "--out", out.path, "--json"])
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(summary["deploymentRank"] == nil || summary["deploymentRank"] is NSNull)
        let reports = try #require(summary["reports"] as? [[String: Any]])
        let ranks = Dictionary(uniqueKeysWithValues: reports.map { ($0["name"] as! String, $0["rank"] as! Int) })
        #expect(reports.allSatisfy { ($0["retainedEnergy"] as! Double) >= 0.9 * (1 - 1e-12) })

        let written = try LoRAAdapter.load(at: out)
        #expect(written.modules.map(\.scale).allSatisfy { $0 == 1 })
        for m in written.modules { #expect(m.rank == ranks[m.name], "\(m.name)") }
        let config = try #require(written.peftConfig)
        let base = config.rank
        let pattern = try #require(config.fields["rank_pattern"]?.objectValue)
        for (name, rank) in ranks where rank != base { #expect(pattern[name]?.intValue == rank, "\(name) missing from rank_pattern") }
        #expect(config.fields["alpha_pattern"] == config.fields["rank_pattern"])
        #expect(Set(ranks.values).count > 1, "the fixture's spectra should need different ranks: \(ranks)")
    }

    @Test("--json prints a summary that parses and lists every module")
    func jsonSummary() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-json")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try CLIFixture.peft(in: dir)
        let r = try await CLIRunner.succeed(["squeeze", src.path, "--rank", "8", "--out", dir.appendingPathComponent("out").path, "--json"])
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(summary["modules"] as? Int == 4)
        #expect(summary["deploymentRank"] as? Int == 8)
        #expect(summary["format"] as? String == "peft")
        let reports = try #require(summary["reports"] as? [[String: Any]])
        #expect(reports.compactMap { $0["name"] as? String } == CLIFixture.modules.map(\.name))
        #expect(reports.compactMap { $0["writtenRank"] as? Int } == [8, 8, 8, 8])
        #expect(reports.compactMap { $0["rank"] as? Int } == [8, 4, 8, 8])
        #expect(reports.compactMap { $0["sourceRank"] as? Int } == [16, 4, 16, 12])
        let minimum = try #require(summary["minRetainedEnergy"] as? Double)
        #expect(minimum > 0 && minimum <= 1)
    }

    @Test("--force replaces a non-empty output directory")
    func force() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-force")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try CLIFixture.peft(in: dir)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: out.appendingPathComponent("stale.txt"))
        try await CLIRunner.succeed(["squeeze", src.path, "--rank", "8", "--out", out.path, "--force"])
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: out.path)) == [PEFTFiles.config, PEFTFiles.weights])
        #expect(try LoRAAdapter.load(at: out).modules.map(\.rank) == [8, 8, 8, 8])
        // Nothing left beside it: no staging or old copies.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["adapter", "out"])
    }
}
