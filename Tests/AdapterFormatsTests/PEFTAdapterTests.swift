import Foundation
import Testing
@testable import AdapterFormats
import TestSupport

@Suite("PEFT adapters on disk")
struct PEFTAdapterTests {
    typealias Module = AdapterFixture.Module

    static let q = Module("model.layers.0.self_attn.q_proj", out: 12, in: 10, rank: 4)
    static let v = Module("model.layers.0.self_attn.v_proj", out: 6, in: 10, rank: 2)
    static let embed = Module("model.embed_tokens", out: 8, in: 30, rank: 4, embedding: true)
    static let prefix = LoRAAdapter.peftPrefix

    /// Tensors are saved with (`lora_A.default.weight`) and without (`lora_A.weight`) an adapter name.
    @Test("modules are read with and without an adapter-name segment", arguments: ["", ".default", ".my_adapter"])
    func adapterNameSegment(suffix: String) throws {
        let dir = AdapterFixture.temporaryDirectory("peft-suffix")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir, modules: [Self.q, Self.v, Self.embed], rank: 4, alpha: 8,
                                    rankPattern: ["v_proj": 2], alphaPattern: ["v_proj": 1], tensorSuffix: suffix)
        let adapter = try LoRAAdapter.load(at: dir)
        #expect(adapter.format.name == "peft")
        #expect(adapter.modules.map(\.name) == [Self.q.name, Self.v.name, Self.embed.name])
        #expect(adapter.modules.map(\.key) == [Self.q, Self.v, Self.embed].map { Self.prefix + $0.name })
        #expect(adapter.modules.map(\.kind) == [.linear, .linear, .embedding])
        #expect(adapter.modules.map(\.rank) == [4, 2, 4])
        #expect(adapter.modules.map(\.outFeatures) == [12, 6, 8])
        #expect(adapter.modules.map(\.inFeatures) == [10, 10, 30])
        #expect(adapter.modules.map(\.scale) == [2, 0.5, 2])       // 8/4, 1/2, 8/4
        #expect(adapter.modules.map(\.alpha) == [8, 1, 8])
        #expect(adapter.modules[0].aTensor.name == Self.prefix + Self.q.name + ".lora_A" + suffix + ".weight")
        #expect(adapter.modules[2].aTensor.name == Self.prefix + Self.embed.name + ".lora_embedding_A" + suffix)
        #expect(adapter.passthrough.isEmpty)
        // The factors are the fixture's values, exactly (F32 on disk).
        for (i, m) in [Self.q, Self.v, Self.embed].enumerated() {
            let (a, b) = LoRAFactorsFixture.make(out: m.out, in: m.inFeatures, rank: m.rank, seed: 1 &+ UInt64(i))
            let read = try adapter.factors(of: adapter.modules[i])
            #expect(read.a == a.map(Double.init))
            #expect(read.b == b.map(Double.init))
        }
    }

    @Test("the weights file path loads the directory; the adapter records its config")
    func loadsByWeightsPath() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-path")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir, modules: [Self.q], rank: 4, alpha: 16)
        let adapter = try LoRAAdapter.load(at: dir.appendingPathComponent(PEFTFiles.weights))
        #expect(adapter.peftConfig?.baseModel == "fixture/model")
        #expect(adapter.modules.map(\.scale) == [4])
        #expect(adapter.metadata == ["format": "pt"])
    }

    @Test("F16, BF16 and F64 factors are read exactly (widened to Double)")
    func halfPrecisionFactors() throws {
        for dtype in [DType.f16, .bf16, .f64] {
            let dir = AdapterFixture.temporaryDirectory("peft-dtype")
            defer { try? FileManager.default.removeItem(at: dir) }
            let (a, b) = LoRAFactorsFixture.make(out: 5, in: 3, rank: 2, seed: 9)
            let key = Self.prefix + "model.layers.0.self_attn.q_proj"
            let tensors: [TensorToWrite]
            if dtype == .f64 {
                func bytes(_ v: [Float]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: Double($0).bitPattern.littleEndian, Array.init) } }
                tensors = [TensorToWrite(name: key + ".lora_A.weight", dtype: .f64, shape: [2, 3], bytes: bytes(a)),
                           TensorToWrite(name: key + ".lora_B.weight", dtype: .f64, shape: [5, 2], bytes: bytes(b))]
            } else {
                tensors = [try .floats(a, name: key + ".lora_A.weight", shape: [2, 3], dtype: dtype),
                           try .floats(b, name: key + ".lora_B.weight", shape: [5, 2], dtype: dtype)]
            }
            try AdapterFixture.writePEFT(at: dir, tensors: tensors, config: AdapterFixture.peftConfig(rank: 2, alpha: 2))
            let adapter = try LoRAAdapter.load(at: dir)
            let m = try #require(adapter.modules.first)
            #expect(m.dtype == dtype)
            let read = try adapter.factors(of: m)
            #expect(read.a == a.map { Double(ReferenceMath.rounded($0, to: dtype)) })
            #expect(read.b == b.map { Double(ReferenceMath.rounded($0, to: dtype)) })
        }
    }

    // MARK: Tensors that are not factors

    @Test("modules_to_save and base-layer bias tensors are passed through")
    func passthroughTensors() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-passthrough")
        defer { try? FileManager.default.removeItem(at: dir) }
        let head = try TensorToWrite.floats((0..<12).map { Float($0) * 0.25 }, name: Self.prefix + "lm_head.weight",
                                            shape: [4, 3], dtype: .bf16)
        let bias = try TensorToWrite.floats([1, -2, 3], name: Self.prefix + "model.layers.0.self_attn.q_proj.bias",
                                            shape: [3], dtype: .f32)
        let counter = TensorToWrite(name: Self.prefix + "model.steps", dtype: .i64, shape: [1], bytes: [7, 0, 0, 0, 0, 0, 0, 0])
        try AdapterFixture.makePEFT(at: dir, modules: [Self.q], rank: 4, alpha: 8, extraTensors: [head, bias, counter],
                                    config: ["modules_to_save": .array([.string("lm_head")]), "bias": .string("lora_only")])
        let adapter = try LoRAAdapter.load(at: dir)
        #expect(adapter.modules.count == 1)
        #expect(adapter.peftConfig?.modulesToSave == ["lm_head"])
        #expect(adapter.passthrough.map(\.name) == [head.name, bias.name, counter.name])
        for (entry, written) in zip(adapter.passthrough, [head, bias, counter]) {
            #expect(Array(adapter.weights.rawBytes(of: entry)) == written.bytes)
            #expect(entry.dtype == written.dtype && entry.shape == written.shape)
        }
    }

    // MARK: Refusals

    @Test("a DoRA magnitude vector is refused, naming the tensor")
    func doraMagnitude() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-dora")
        defer { try? FileManager.default.removeItem(at: dir) }
        let name = Self.prefix + Self.q.name + ".lora_magnitude_vector"
        let magnitude = try TensorToWrite.floats([Float](repeating: 1, count: 12), name: name, shape: [12], dtype: .f32)
        try AdapterFixture.makePEFT(at: dir, modules: [Self.q], rank: 4, alpha: 8, extraTensors: [magnitude])
        do {
            _ = try LoRAAdapter.load(at: dir)
            Issue.record("a DoRA adapter was accepted")
        } catch {
            guard case let .unsupported(message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.hasPrefix("tensor \(name): a DoRA magnitude vector"))
        }
    }

    @Test("a lora_A without its lora_B (and the reverse) is a missing partner")
    func missingPartner() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-partner")
        defer { try? FileManager.default.removeItem(at: dir) }
        let factors = try AdapterFixture.peftFactors(Self.q, seed: 1)
        let config = AdapterFixture.peftConfig(rank: 4, alpha: 8)
        try AdapterFixture.writePEFT(at: dir, tensors: [factors[0]], config: config)
        #expect(throws: AdapterError.missingPartner(module: Self.q.name, missing: "lora_B")) { try LoRAAdapter.load(at: dir) }
        try AdapterFixture.writePEFT(at: dir, tensors: [factors[1]], config: config)
        #expect(throws: AdapterError.missingPartner(module: Self.q.name, missing: "lora_A")) { try LoRAAdapter.load(at: dir) }
        let embedA = try TensorToWrite.floats([Float](repeating: 0.5, count: 8), name: Self.prefix + "model.embed_tokens.lora_embedding_A",
                                              shape: [4, 2], dtype: .f32)
        try AdapterFixture.writePEFT(at: dir, tensors: factors + [embedA], config: config)
        #expect(throws: AdapterError.missingPartner(module: "model.embed_tokens", missing: "lora_embedding_B")) {
            try LoRAAdapter.load(at: dir)
        }
    }

    @Test("B's rank differing from A's is a shape mismatch naming lora_B")
    func bRankDiffers() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-shape")
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = Self.prefix + Self.q.name
        let a = try TensorToWrite.floats([Float](repeating: 0.1, count: 40), name: key + ".lora_A.weight", shape: [4, 10], dtype: .f32)
        let b = try TensorToWrite.floats([Float](repeating: 0.1, count: 36), name: key + ".lora_B.weight", shape: [12, 3], dtype: .f32)
        try AdapterFixture.writePEFT(at: dir, tensors: [a, b], config: AdapterFixture.peftConfig(rank: 4, alpha: 8))
        let expected = AdapterError.shapeMismatch(tensor: key + ".lora_B.weight", detail: "shape [12, 3] does not match lora_A rank 4")
        #expect(throws: expected) { try LoRAAdapter.load(at: dir) }
        #expect(expected.description == "tensor \(key).lora_B.weight: shape [12, 3] does not match lora_A rank 4")
    }

    @Test("a one-dimensional lora_A, or a 4-D B beside a 2-D A, is a shape mismatch")
    func badDimensions() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-dims")
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = Self.prefix + Self.q.name
        let a1 = try TensorToWrite.floats([Float](repeating: 0.1, count: 4), name: key + ".lora_A.weight", shape: [4], dtype: .f32)
        let b = try TensorToWrite.floats([Float](repeating: 0.1, count: 48), name: key + ".lora_B.weight", shape: [12, 4], dtype: .f32)
        try AdapterFixture.writePEFT(at: dir, tensors: [a1, b], config: AdapterFixture.peftConfig(rank: 4, alpha: 8))
        #expect(throws: AdapterError.shapeMismatch(tensor: a1.name, detail: "shape [4] must have at least 2 dimensions [r, in, …]")) {
            try LoRAAdapter.load(at: dir)
        }
        let a = try TensorToWrite.floats([Float](repeating: 0.1, count: 40), name: key + ".lora_A.weight", shape: [4, 10], dtype: .f32)
        let b4 = try TensorToWrite.floats([Float](repeating: 0.1, count: 48), name: key + ".lora_B.weight", shape: [12, 4, 1, 1], dtype: .f32)
        try AdapterFixture.writePEFT(at: dir, tensors: [a, b4], config: AdapterFixture.peftConfig(rank: 4, alpha: 8))
        #expect(throws: AdapterError.shapeMismatch(tensor: b4.name, detail: "shape [12, 4, 1, 1] has 4 dimensions but lora_A [4, 10] has 2")) {
            try LoRAAdapter.load(at: dir)
        }
    }

    @Test("the config's rank disagreeing with the tensors is a rank mismatch naming the module")
    func rankMismatch() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-rank")
        defer { try? FileManager.default.removeItem(at: dir) }
        // r = 4 in the config, but v_proj's tensors have rank 2 and no rank_pattern says so.
        try AdapterFixture.makePEFT(at: dir, modules: [Self.q, Self.v], rank: 4, alpha: 8)
        let expected = AdapterError.rankMismatch(module: Self.v.name, config: 4, tensors: 2)
        #expect(throws: expected) { try LoRAAdapter.load(at: dir) }
        #expect(expected.description.contains(Self.v.name))
        // A rank_pattern naming a wrong rank for q_proj.
        try AdapterFixture.makePEFT(at: dir, modules: [Self.q, Self.v], rank: 4, alpha: 8,
                                    rankPattern: ["v_proj": 2, "layers.0.self_attn.q_proj": 8])
        #expect(throws: AdapterError.rankMismatch(module: Self.q.name, config: 8, tensors: 4)) { try LoRAAdapter.load(at: dir) }
    }

    @Test("integer factor tensors are an unsupported dtype naming the tensor", arguments: [DType.i32, .i8, .u8, .i64, .bool])
    func integerFactors(dtype: DType) throws {
        let dir = AdapterFixture.temporaryDirectory("peft-int")
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = Self.prefix + Self.q.name
        let a = TensorToWrite(name: key + ".lora_A.weight", dtype: dtype, shape: [4, 10],
                              bytes: [UInt8](repeating: 0, count: 40 * dtype.byteWidth))
        let b = try TensorToWrite.floats([Float](repeating: 0.1, count: 48), name: key + ".lora_B.weight", shape: [12, 4], dtype: .f32)
        try AdapterFixture.writePEFT(at: dir, tensors: [a, b], config: AdapterFixture.peftConfig(rank: 4, alpha: 8))
        let expected = AdapterError.unsupportedDType(tensor: a.name, dtype: dtype)
        #expect(throws: expected) { try LoRAAdapter.load(at: dir) }
        #expect(expected.description.contains(a.name) && expected.description.contains(dtype.rawValue))
    }

    @Test("a weights file without LoRA tensors holds no modules")
    func noModules() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        let head = try TensorToWrite.floats([1, 2], name: Self.prefix + "lm_head.weight", shape: [2], dtype: .f32)
        try AdapterFixture.writePEFT(at: dir, tensors: [head], config: AdapterFixture.peftConfig(rank: 4, alpha: 8))
        #expect(throws: AdapterError.noModules(PEFTFiles.weights)) { try LoRAAdapter.load(at: dir) }
    }

    // MARK: Broken files

    @Test("corrupt safetensors: the error names the file", arguments: [
        [UInt8](), [1, 2, 3], [200, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8),
        [2, 0, 0, 0, 0, 0, 0, 0] + Array("[]".utf8), [8, 0, 0, 0, 0, 0, 0, 0] + Array("not json".utf8),
    ])
    func corruptWeights(bytes: [UInt8]) throws {
        let dir = AdapterFixture.temporaryDirectory("peft-corrupt")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir, modules: [Self.q], rank: 4, alpha: 8)
        try Data(bytes).write(to: dir.appendingPathComponent(PEFTFiles.weights))
        do {
            _ = try LoRAAdapter.load(at: dir)
            Issue.record("a corrupt file was accepted")
        } catch {
            guard case let .safetensors(file, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(file == PEFTFiles.weights)
            #expect(error.description.hasPrefix(PEFTFiles.weights + ": "))
        }
    }

    @Test("a truncated weights file (data cut short) names the file")
    func truncatedWeights() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-truncated")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir, modules: [Self.q], rank: 4, alpha: 8)
        let url = dir.appendingPathComponent(PEFTFiles.weights)
        let whole = try Data(contentsOf: url)
        try whole.prefix(whole.count - 5).write(to: url)
        do {
            _ = try LoRAAdapter.load(at: dir)
            Issue.record("a truncated file was accepted")
        } catch {
            guard case let .safetensors(file, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(file == PEFTFiles.weights)
        }
    }

    @Test("missing files are named")
    func missingFiles() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-missing")
        defer { try? FileManager.default.removeItem(at: dir) }
        let nowhere = dir.appendingPathComponent("nowhere")
        #expect(throws: AdapterError.missingFile(nowhere.path)) { try LoRAAdapter.load(at: nowhere) }
        #expect(throws: AdapterError.missingFile(dir.appendingPathComponent(PEFTFiles.config).path)) { try LoRAAdapter.load(at: dir) }
        try AdapterFixture.makePEFT(at: dir, modules: [Self.q], rank: 4, alpha: 8)
        try FileManager.default.removeItem(at: dir.appendingPathComponent(PEFTFiles.weights))
        #expect(throws: AdapterError.missingFile(dir.appendingPathComponent(PEFTFiles.weights).path)) { try LoRAAdapter.load(at: dir) }
    }

    @Test("an invalid config on disk fails before the weights are read")
    func invalidConfigOnDisk() throws {
        let dir = AdapterFixture.temporaryDirectory("peft-badconfig")
        defer { try? FileManager.default.removeItem(at: dir) }
        try AdapterFixture.makePEFT(at: dir, modules: [Self.q], rank: 4, alpha: 8, config: ["use_dora": .bool(true)])
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent(PEFTFiles.weights))
        do {
            _ = try LoRAAdapter.load(at: dir)
            Issue.record("use_dora accepted")
        } catch {
            guard case let .unsupported(message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains("use_dora"))
        }
    }
}
