import AdapterFormats
import Foundation
import Testing
import TestSupport

/// `lora-squeeze extract` as a user runs it: directories and single files in, a PEFT adapter and a
/// report out, mismatched models refused naming the tensor. (The factors' optimality is the engine's
/// ModelExtractionTests; here, that the CLI writes what it reports.)
@Suite("lora-squeeze extract (subprocess)")
struct ExtractCLITests {
    struct Report: Decodable {
        struct Module: Decodable { let name: String; let shape: [Int]; let rank: Int; let energy: Double; let relativeError: Double }
        let rank: Int
        let modules: [Module]
        let unchanged: Int
        let minEnergy: Double
    }

    @Test("a sharded bf16 base and its fine-tune → an adapter of the three changed weights at rank 4")
    func extract() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-extract")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (base, tuned, out) = (dir.appendingPathComponent("base"), dir.appendingPathComponent("tuned"), dir.appendingPathComponent("out"))
        try ModelFixture.write(at: base, dtype: .bf16, sharded: true)
        try ModelFixture.writeTuned(from: base, to: tuned, rank: 4, noise: 1e-3)
        let r = try await CLIRunner.succeed(["extract", "--base", base.path, "--tuned", tuned.path, "--rank", "4", "--out", out.path,
                                             "--json", "--base-model", "fixture/model"])
        let report = try JSONDecoder().decode(Report.self, from: Data(r.stdout.utf8))
        #expect(report.rank == 4 && report.modules.map { $0.name + ".weight" }.sorted() == ModelFixture.tunedWeights.sorted())
        #expect(report.unchanged == 11 && report.minEnergy > 0.99, "\(r.stdout)")
        let adapter = try LoRAAdapter.load(at: out)
        #expect(adapter.peftConfig?.baseModel == "fixture/model")
        #expect(adapter.modules.allSatisfy { $0.rank == 4 && $0.scale == 1 && $0.dtype == .bf16 }, "bf16 in, bf16 out")
        #expect(Set(adapter.modules.map(\.name)) == Set(report.modules.map(\.name)))

        // Single files work too, and --targets picks modules.
        let one = dir.appendingPathComponent("one")
        let single = try await CLIRunner.succeed(["extract", "--base", base.appendingPathComponent(ModelFixture.shardNames[0]).path,
                                                  "--tuned", tuned.appendingPathComponent(ModelFixture.shardNames[0]).path,
                                                  "--rank", "2", "--targets", "q_proj", "--out", one.path, "--dtype", "f32"])
        #expect(single.stdout.contains("extracted 1 modules at rank 2"), "\(single.stdout)")
        #expect(try LoRAAdapter.load(at: one).modules.map(\.name) == ["model.layers.0.self_attn.q_proj"])
    }

    @Test("mismatched models and bad options are refused naming what is wrong, nothing written")
    func refused() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-extract-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (base, sharded) = (dir.appendingPathComponent("base"), dir.appendingPathComponent("sharded"))
        try ModelFixture.write(at: base, sharded: false)
        try ModelFixture.write(at: sharded, sharded: true)
        let out = dir.appendingPathComponent("out")
        // One shard of the sharded model against the whole: the second shard's tensors are missing.
        let missing = try await CLIRunner.run(["extract", "--base", base.path, "--tuned",
                                               sharded.appendingPathComponent(ModelFixture.shardNames[0]).path, "--rank", "4", "--out", out.path])
        #expect(missing.status != 0 && missing.stderr.contains("model.layers.1.") && missing.stderr.contains("not in the tuned"), "\(missing.stderr)")
        let same = try await CLIRunner.run(["extract", "--base", base.path, "--tuned", base.path, "--rank", "4", "--out", out.path])
        #expect(same.status != 0 && same.stderr.contains("nothing to extract"), "\(same.stderr)")
        let target = try await CLIRunner.run(["extract", "--base", base.path, "--tuned", sharded.path, "--rank", "4", "--targets", "nope", "--out", out.path])
        #expect(target.status != 0 && target.stderr.contains("nope"), "\(target.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
