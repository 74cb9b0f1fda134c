import AdapterFormats
import Foundation
import Testing
import TestSupport

/// A broken input or bad flags, and what stderr must say about it.
struct BadRun: CustomTestStringConvertible, Sendable {
    let label: String
    /// Prepares the source inside the scratch directory and returns its path.
    let prepare: @Sendable (URL) throws -> String
    let extraArguments: [String]
    /// Fragments stderr must contain (the thing at fault).
    let mentions: @Sendable (String) -> [String]
    var testDescription: String { label }
}

@Suite("lora-squeeze failures (subprocess)")
struct CLIErrorTests {
    static let q = AdapterFixture.Module("model.layers.0.self_attn.q_proj", out: 12, in: 10, rank: 4)

    static let cases: [BadRun] = [
        BadRun(label: "missing source", prepare: { $0.appendingPathComponent("nowhere").path }, extraArguments: [],
               mentions: { _ in ["nowhere", "no such file"] }),
        BadRun(label: "corrupt safetensors", prepare: { dir in
            let src = try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [q], rank: 4, alpha: 8)
            try Data([1, 2, 3, 4, 5]).write(to: src.appendingPathComponent(PEFTFiles.weights))
            return src.path
        }, extraArguments: [], mentions: { _ in [PEFTFiles.weights] }),
        BadRun(label: "corrupt kohya file", prepare: { dir in
            let file = dir.appendingPathComponent("broken_style.safetensors")
            try Data([40, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)).write(to: file)
            return file.path
        }, extraArguments: [], mentions: { _ in ["broken_style.safetensors"] }),
        BadRun(label: "DoRA magnitude vector", prepare: { dir in
            let name = LoRAAdapter.peftPrefix + q.name + ".lora_magnitude_vector"
            let magnitude = try TensorToWrite.floats([Float](repeating: 1, count: 12), name: name, shape: [12], dtype: .f32)
            return try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [q], rank: 4, alpha: 8,
                                               extraTensors: [magnitude]).path
        }, extraArguments: [], mentions: { _ in ["lora_magnitude_vector", "DoRA"] }),
        BadRun(label: "use_dora in the config", prepare: { dir in
            try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [q], rank: 4, alpha: 8,
                                        config: ["use_dora": .bool(true)]).path
        }, extraArguments: [], mentions: { _ in ["use_dora"] }),
        BadRun(label: "--rank 0", prepare: { dir in
            try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [q], rank: 4, alpha: 8).path
        }, extraArguments: ["--rank", "0"], mentions: { _ in ["--rank"] }),
        BadRun(label: "--rank past the limit", prepare: { dir in
            try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [q], rank: 4, alpha: 8).path
        }, extraArguments: ["--rank", "4097"], mentions: { _ in ["--rank", "4096"] }),
        BadRun(label: "--energy and --ratio together", prepare: { dir in
            try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [q], rank: 4, alpha: 8).path
        }, extraArguments: ["--energy", "0.9", "--ratio", "0.1", "--no-pad"], mentions: { _ in ["--energy", "--ratio"] }),
        BadRun(label: "--energy above 1", prepare: { dir in
            try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [q], rank: 4, alpha: 8).path
        }, extraArguments: ["--energy", "1.5", "--no-pad"], mentions: { _ in ["1.5"] }),
        BadRun(label: "NaN in a factor", prepare: { dir in
            var (a, b) = LoRAFactorsFixture.make(out: 12, in: 10, rank: 4, seed: 1)
            b[17] = .nan
            let key = LoRAAdapter.peftPrefix + q.name
            return try AdapterFixture.writePEFT(at: dir.appendingPathComponent("adapter"), tensors: [
                try .floats(a, name: key + ".lora_A.weight", shape: [4, 10], dtype: .f32),
                try .floats(b, name: key + ".lora_B.weight", shape: [12, 4], dtype: .f32),
            ], config: AdapterFixture.peftConfig(rank: 4, alpha: 8)).path
        }, extraArguments: [], mentions: { _ in [LoRAAdapter.peftPrefix + q.name + ".lora_B.weight", "NaN", "17"] }),
        BadRun(label: "rank mismatch", prepare: { dir in
            try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [q], rank: 4, alpha: 8,
                                        config: ["r": .number(8)]).path
        }, extraArguments: [], mentions: { _ in [q.name, "rank 8", "rank 4"] }),
    ]

    @Test("bad input: non-zero exit, stderr names the problem, nothing created at --out", arguments: cases)
    func badInput(_ c: BadRun) async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try c.prepare(dir)
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        let out = dir.appendingPathComponent("out")
        var args = ["squeeze", source, "--out", out.path]
        if !c.extraArguments.contains("--rank") && !c.extraArguments.contains("--no-pad") { args += ["--rank", "2"] }
        args += c.extraArguments
        let r = try await CLIRunner.run(args)
        #expect(r.status != 0, "exit status 0\nstdout: \(r.stdout)")
        for fragment in c.mentions(source) {
            #expect(r.stderr.contains(fragment), "stderr does not mention \(fragment): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path), "--out was created")
        // No staging directory left behind either.
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == before)
    }

    @Test("--out existing and non-empty without --force: refused, its contents untouched")
    func outExists() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-exists")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [Self.q], rank: 4, alpha: 8)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: out.appendingPathComponent("notes.txt"))
        let r = try await CLIRunner.run(["squeeze", src.path, "--rank", "2", "--out", out.path])
        #expect(r.status != 0)
        #expect(r.stderr.contains(out.lastPathComponent) && r.stderr.contains("--force"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["notes.txt"])
        #expect(try Data(contentsOf: out.appendingPathComponent("notes.txt")) == Data("keep me".utf8))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == ["adapter", "out"])
    }

    @Test("an existing empty --out directory is filled without --force")
    func outEmpty() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [Self.q], rank: 4, alpha: 8)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try await CLIRunner.succeed(["squeeze", src.path, "--rank", "2", "--out", out.path])
        #expect(try LoRAAdapter.load(at: out).modules.map(\.rank) == [2])
    }

    @Test("squeeze without --rank (and without --no-pad) is a usage error")
    func rankRequired() async throws {
        let dir = AdapterFixture.temporaryDirectory("cli-norank")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try AdapterFixture.makePEFT(at: dir.appendingPathComponent("adapter"), modules: [Self.q], rank: 4, alpha: 8)
        let r = try await CLIRunner.run(["squeeze", src.path, "--out", dir.appendingPathComponent("out").path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--rank"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
    }
}
