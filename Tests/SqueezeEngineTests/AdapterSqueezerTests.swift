import AdapterFormats
import Foundation
import Testing
@testable import SqueezeEngine
import TestSupport

// This file runs past ~300 lines because it also holds the dense reference (`BestApproximation`) and the
// per-module check (`SqueezeCheck`) that ModelFamilyTests shares; they need LAPACK through
// `@testable import SqueezeEngine`, which the TestSupport target cannot import.

/// The best rank-t approximation of one module's update, computed independently of the engine:
/// `scale·B·A` formed by loops in Double (no BLAS), a dense LAPACK SVD of that matrix (`dgesdd` on the
/// formed out×in matrix, not the engine's Gram/core route), and `Σ_{l<t} σ_l u_l v_lᵀ` summed by loops.
struct BestApproximation {
    let rows: Int
    let columns: Int
    let delta: [Double]
    let singularValues: [Double]

    init(adapter: LoRAAdapter, module m: LoRAModule) throws {
        let (a, b) = try adapter.factors(of: m)
        rows = m.outFeatures
        columns = m.inFeatures
        delta = ReferenceMath.product(b: b, a: a, out: m.outFeatures, rank: m.rank, in: m.inFeatures, scale: m.scale)
        (u, singularValues, vt) = try LAPACK.svd(try Matrix(rows: rows, columns: columns, storage: delta))
    }

    private let u: Matrix<Double>
    private let vt: Matrix<Double>

    var norm: Double { ReferenceMath.frobenius(delta) }

    /// X_t, row-major out×in.
    func truncated(rank t: Int) -> [Double] {
        let k = min(t, singularValues.count)
        var x = [Double](repeating: 0, count: rows * columns)
        for l in 0..<k {
            let s = singularValues[l]
            for i in 0..<rows {
                let us = u[i, l] * s
                for j in 0..<columns { x[i * columns + j] += us * vt[l, j] }
            }
        }
        return x
    }

    /// √(Σ_{l≥t} σ_l²): Eckart–Young's least error at rank t.
    func optimalError(rank t: Int) -> Double { singularValues.dropFirst(t).reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// Σ_{l<t} σ_l² / Σ σ_l².
    func energy(rank t: Int) -> Double {
        let total = singularValues.reduce(0) { $0 + $1 * $1 }
        return singularValues.prefix(t).reduce(0) { $0 + $1 * $1 } / total
    }

    /// The smallest t whose energy reaches `fraction` (the `--energy` rule, computed here by a plain scan).
    func rank(forEnergy fraction: Double) -> Int {
        (1...singularValues.count).first { energy(rank: $0) >= fraction } ?? singularValues.count
    }
}

/// Checks of a squeezed module read back from its written file against the source module.
enum SqueezeCheck {
    /// Relative tolerance on ‖B'A' − X_t‖_F / ‖X_t‖_F for factors written in `dtype`. The engine works in
    /// double and rounds each factor element once to the output dtype, relative error u = 2⁻²⁴ (F32),
    /// 2⁻¹¹ (F16), 2⁻⁹ (BF16); the product's relative error is then at most about 2u·√t and in practice
    /// near u·√2. F32: 1e-5 (two orders above 2u·√8); F16: 3e-3; BF16: 1e-2 (both ~2.5× the worst case
    /// 2u·√8). A wrong subspace costs an error of order σ_{t+1}/‖X_t‖ ≳ 1e-2·(decay) on these spectra, so
    /// the F32 check would catch it outright; the half-precision ones check the dtype path.
    static func tolerance(_ dtype: DType) -> Double {
        switch dtype {
        case .f16: 3e-3
        case .bf16: 1e-2
        default: 1e-5
        }
    }

    /// The written module `w` (re-read) is at `writtenRank`, scale 1, its directions past `kept` are zero,
    /// and `B'·A'` equals the source module's best rank-`kept` approximation.
    static func module(_ w: LoRAModule, in written: LoRAAdapter, source m: LoRAModule, of source: LoRAAdapter,
                       kept: Int, writtenRank: Int, dtype: DType, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(w.name == m.name && w.kind == m.kind, sourceLocation: sourceLocation)
        #expect(w.rank == writtenRank, "\(w.name): rank \(w.rank)", sourceLocation: sourceLocation)
        #expect(w.scale == 1, sourceLocation: sourceLocation)
        #expect(w.dtype == dtype, sourceLocation: sourceLocation)
        #expect(w.outFeatures == m.outFeatures && w.inFeatures == m.inFeatures, sourceLocation: sourceLocation)
        let (a, b) = try written.factors(of: w)
        // Zero padding: rows kept..<R of A', columns kept..<R of B'.
        #expect(a[(kept * w.inFeatures)...].allSatisfy { $0 == 0 }, "\(w.name): A' padding is not zero", sourceLocation: sourceLocation)
        for i in 0..<w.outFeatures {
            for j in kept..<w.rank where b[i * w.rank + j] != 0 {
                Issue.record("\(w.name): B'[\(i), \(j)] = \(b[i * w.rank + j]) in the padding", sourceLocation: sourceLocation)
            }
        }
        let reference = try BestApproximation(adapter: source, module: m)
        let best = reference.truncated(rank: kept)
        let product = ReferenceMath.product(b: b, a: a, out: w.outFeatures, rank: w.rank, in: w.inFeatures)
        let error = ReferenceMath.frobenius(product, minus: best)
        let scale = ReferenceMath.frobenius(best)
        #expect(error <= tolerance(dtype) * scale,
                "\(w.name): ‖B'A' − X_\(kept)‖ = \(error), ‖X_\(kept)‖ = \(scale), tolerance \(tolerance(dtype))",
                sourceLocation: sourceLocation)
    }
}

@Suite("Squeezing whole adapters, checked against a dense SVD")
struct AdapterSqueezerTests {
    typealias Module = AdapterFixture.Module

    static let deploymentRank = 8
    /// Mixed ranks (rank_pattern), scales (alpha_pattern), a module with min(out, in) < R, one of rank < R,
    /// an embedding.
    static let modules = [Module("model.layers.0.self_attn.q_proj", out: 40, in: 32, rank: 16),
                          Module("model.layers.0.self_attn.k_proj", out: 4, in: 32, rank: 16),
                          Module("model.layers.0.self_attn.v_proj", out: 24, in: 32, rank: 4),
                          Module("model.layers.1.mlp.up_proj", out: 48, in: 32, rank: 12),
                          Module("model.embed_tokens", out: 16, in: 50, rank: 16, embedding: true)]
    static let rankPattern = ["v_proj": 4, "layers.1.mlp.up_proj": 12]
    static let alphaPattern = ["v_proj": 8.0, "layers.1.mlp.up_proj": 6]
    /// Directions each module keeps at R = 8: min(R, r, out, in).
    static let kept = [8, 4, 4, 8, 8]

    static func makeSource(in dir: URL, dtype: DType, rslora: Bool = false) throws -> LoRAAdapter {
        try AdapterFixture.makePEFT(at: dir, modules: modules, rank: 16, alpha: 32, rankPattern: rankPattern,
                                    alphaPattern: alphaPattern, rslora: rslora, dtype: dtype, tensorSuffix: ".default")
        return try LoRAAdapter.load(at: dir)
    }

    /// Writes `output` into a new directory under `dir` and reads it back.
    static func writeAndReload(_ output: OutputAdapter, under dir: URL) throws -> LoRAAdapter {
        let outDir = dir.appendingPathComponent("out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        try output.writeFiles(into: outDir)
        if case .kohya = output.format { return try LoRAAdapter.load(at: outDir.appendingPathComponent(output.kohyaFileName)) }
        return try LoRAAdapter.load(at: outDir)
    }

    @Test("every dtype in and out: each module at exactly R, uniform config, B'A' the best rank-t approximation",
          arguments: [DType.f32, .f16, .bf16], [DType.f32, .f16, .bf16])
    func endToEnd(input: DType, output: DType) throws {
        let dir = AdapterFixture.temporaryDirectory("squeeze-e2e")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try Self.makeSource(in: dir.appendingPathComponent("src"), dtype: input)
        #expect(source.modules.map(\.rank) == [16, 16, 4, 12, 16])
        #expect(source.modules.map(\.scale) == [2, 2, 2, 0.5, 2])        // 32/16, 32/16, 8/4, 6/12, 32/16
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(method: .exact, policy: .fixed(Self.deploymentRank)),
                                       deploymentRank: Self.deploymentRank, dtype: output)
        let result = try squeezer.squeeze(source)
        #expect(result.reports.map(\.name) == Self.modules.map(\.name))
        #expect(result.reports.map(\.rank) == Self.kept)
        #expect(result.reports.allSatisfy { $0.writtenRank == Self.deploymentRank })
        #expect(result.reports.map(\.sourceRank) == [16, 16, 4, 12, 16])

        let written = try Self.writeAndReload(result.output, under: dir)
        let config = try #require(written.peftConfig)
        #expect(config.rank == Self.deploymentRank && config.alpha == Double(Self.deploymentRank))
        #expect(config.rankPattern.isEmpty && config.alphaPattern.isEmpty && !config.useRSLoRA)
        #expect(written.modules.count == source.modules.count)
        for (i, (w, m)) in zip(written.modules, source.modules).enumerated() {
            try SqueezeCheck.module(w, in: written, source: m, of: source, kept: Self.kept[i],
                                    writtenRank: Self.deploymentRank, dtype: output)
        }
    }

    @Test("input dtype kept when no output dtype is given", arguments: [DType.f16, .bf16])
    func keepsInputDType(input: DType) throws {
        let dir = AdapterFixture.temporaryDirectory("squeeze-keep")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try Self.makeSource(in: dir.appendingPathComponent("src"), dtype: input)
        let result = try AdapterSqueezer(module: ModuleSqueezer(policy: .fixed(8)), deploymentRank: 8).squeeze(source)
        let written = try Self.writeAndReload(result.output, under: dir)
        #expect(written.modules.allSatisfy { $0.dtype == input })
    }

    @Test("rsLoRA scales alpha/√r are folded in; rsvd (sketch ≥ r here) and exact agree with the dense SVD",
          arguments: [SqueezeMethod.exact, .rsvd, .auto])
    func rsLoRA(method: SqueezeMethod) throws {
        let dir = AdapterFixture.temporaryDirectory("squeeze-rslora")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try Self.makeSource(in: dir.appendingPathComponent("src"), dtype: .f32, rslora: true)
        #expect(source.modules.map(\.scale) == [8, 8, 4, 6 / 12.0.squareRoot(), 8])   // 32/√16, 8/√4, 6/√12
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(method: method, policy: .fixed(8)), deploymentRank: 8)
        let result = try squeezer.squeeze(source)
        let written = try Self.writeAndReload(result.output, under: dir)
        #expect(written.peftConfig?.useRSLoRA == false)
        for (i, (w, m)) in zip(written.modules, source.modules).enumerated() {
            try SqueezeCheck.module(w, in: written, source: m, of: source, kept: Self.kept[i], writtenRank: 8, dtype: .f32)
        }
    }

    @Test("the reports' energy, error and spectrum agree with the dense reference")
    func reports() throws {
        let dir = AdapterFixture.temporaryDirectory("squeeze-reports")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try Self.makeSource(in: dir, dtype: .f32)
        let result = try AdapterSqueezer(module: ModuleSqueezer(method: .exact, policy: .fixed(8)), deploymentRank: 8).squeeze(source)
        for (report, m) in zip(result.reports, source.modules) {
            let ref = try BestApproximation(adapter: source, module: m)
            let t = report.rank
            // Spectrum, energy and error: double-precision paths, so agreement to 1e-9 relative to the norm.
            #expect(report.singularValues.count == min(m.rank, m.outFeatures, m.inFeatures))
            for (x, y) in zip(report.singularValues, ref.singularValues) { #expect(abs(x - y) <= 1e-9 * ref.norm) }
            #expect(abs(report.retainedEnergy - ref.energy(rank: t)) <= 1e-9)
            #expect(abs(report.error - ref.optimalError(rank: t)) <= 1e-9 * ref.norm)
            #expect(abs(report.updateNorm - ref.norm) <= 1e-9 * ref.norm)
            #expect(report.kind == m.kind && report.outFeatures == m.outFeatures && report.inFeatures == m.inFeatures)
        }
    }

    // MARK: Per-module ranks (--no-pad)

    @Test("no deployment rank: each module at its own rank in rank/alpha patterns, every scale 1 on re-reading")
    func noPadFixed() throws {
        let dir = AdapterFixture.temporaryDirectory("squeeze-nopad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try Self.makeSource(in: dir.appendingPathComponent("src"), dtype: .f32)
        let result = try AdapterSqueezer(module: ModuleSqueezer(policy: .fixed(8)), deploymentRank: nil).squeeze(source)
        #expect(result.reports.map(\.writtenRank) == Self.kept)
        let written = try Self.writeAndReload(result.output, under: dir)
        let config = try #require(written.peftConfig)
        #expect(config.rank == 8 && config.alpha == 8)            // the most common rank
        let others: JSONValue = .object([Self.modules[1].name: .number(4), Self.modules[2].name: .number(4)])
        #expect(config.fields["rank_pattern"] == others)
        #expect(config.fields["alpha_pattern"] == others)
        #expect(written.modules.map(\.rank) == Self.kept)
        #expect(written.modules.map(\.scale) == [1, 1, 1, 1, 1])
        for (i, (w, m)) in zip(written.modules, source.modules).enumerated() {
            try SqueezeCheck.module(w, in: written, source: m, of: source, kept: Self.kept[i], writtenRank: Self.kept[i], dtype: .f32)
        }
    }

    @Test("no deployment rank with an energy rule: each rank is the smallest holding the energy", arguments: [0.5, 0.9, 0.99])
    func noPadEnergy(fraction: Double) throws {
        let dir = AdapterFixture.temporaryDirectory("squeeze-energy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try Self.makeSource(in: dir.appendingPathComponent("src"), dtype: .f32)
        let result = try AdapterSqueezer(module: ModuleSqueezer(method: .exact, policy: RankPolicy(.energy(fraction))),
                                         deploymentRank: nil).squeeze(source)
        let written = try Self.writeAndReload(result.output, under: dir)
        #expect(written.modules.map(\.scale).allSatisfy { $0 == 1 })
        for (i, (w, m)) in zip(written.modules, source.modules).enumerated() {
            let expected = try BestApproximation(adapter: source, module: m).rank(forEnergy: fraction)
            #expect(result.reports[i].rank == expected, "\(m.name)")
            try SqueezeCheck.module(w, in: written, source: m, of: source, kept: expected, writtenRank: expected, dtype: .f32)
        }
    }

    // MARK: kohya

    @Test("kohya with a conv layer: 4-D factors at the new rank, alpha = R, B'A' optimal for scale alpha/r")
    func kohya() throws {
        let dir = AdapterFixture.temporaryDirectory("squeeze-kohya")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try AdapterFixture.makeKohya(at: dir.appendingPathComponent("style.safetensors"), rank: 8, alpha: 4, dtype: .f16)
        let source = try LoRAAdapter.load(at: file)
        let result = try AdapterSqueezer(module: ModuleSqueezer(policy: .fixed(4)), deploymentRank: 4, dtype: .f32).squeeze(source)
        let output = result.output.with(kohyaFileName: "style.safetensors")
        let written = try Self.writeAndReload(output, under: dir)
        let conv = try #require(written.modules.last)
        #expect(conv.kind == .conv && conv.aTensor.shape == [4, 8, 3, 3] && conv.bTensor.shape == [24, 4, 1, 1])
        #expect(try written.weights.floats(named: conv.key + ".alpha") == [4])
        #expect(written.metadata?["ss_network_dim"] == "4" && written.metadata?["ss_network_alpha"] == "4")
        for (w, m) in zip(written.modules, source.modules) {
            try SqueezeCheck.module(w, in: written, source: m, of: source, kept: 4, writtenRank: 4, dtype: .f32)
        }
    }

    // MARK: Refusals

    @Test("a NaN or ±Inf in a factor fails the squeeze with nonFinite naming the tensor and index",
          arguments: [(DType.f32, Float.nan, SqueezeMethod.exact), (.f16, .infinity, .exact), (.bf16, -.infinity, .exact),
                      (.f32, .nan, .rsvd), (.bf16, .infinity, .rsvd)])
    func nonFinite(dtype: DType, bad: Float, method: SqueezeMethod) throws {
        let dir = AdapterFixture.temporaryDirectory("squeeze-nan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let q = Self.modules[0], v = Self.modules[2]
        var tensors = try AdapterFixture.peftFactors(q, seed: 1, dtype: .f32) + AdapterFixture.peftFactors(v, seed: 2, dtype: .f32)
        // lora_B of q_proj, flat index 37 (row 2, column 5 of 40×16).
        func poisoned(_ t: TensorToWrite, at index: Int) throws -> TensorToWrite {
            var values = t.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            values[index] = bad
            return try .floats(values, name: t.name, shape: t.shape, dtype: dtype)
        }
        tensors[1] = try poisoned(tensors[1], at: 37)
        var config = AdapterFixture.peftConfig(rank: 16, alpha: 16)
        config["rank_pattern"] = .object(["v_proj": .number(4)])
        try AdapterFixture.writePEFT(at: dir.appendingPathComponent("b"), tensors: tensors, config: config)
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(method: method, policy: .fixed(8)), deploymentRank: 8)
        let adapterB = try LoRAAdapter.load(at: dir.appendingPathComponent("b"))   // loading reads no values
        #expect(throws: AdapterSqueezeError.adapter(.nonFinite(tensor: tensors[1].name, index: 37))) {
            _ = try squeezer.squeeze(adapterB)
        }
        // lora_A of v_proj (4×32), flat index 100.
        var clean = try AdapterFixture.peftFactors(q, seed: 1) + AdapterFixture.peftFactors(v, seed: 2)
        clean[2] = try poisoned(clean[2], at: 100)
        try AdapterFixture.writePEFT(at: dir.appendingPathComponent("a"), tensors: clean, config: config)
        let adapterA = try LoRAAdapter.load(at: dir.appendingPathComponent("a"))
        let expected = AdapterSqueezeError.adapter(.nonFinite(tensor: clean[2].name, index: 100))
        #expect(throws: expected) { _ = try squeezer.squeeze(adapterA) }
        #expect(expected.description.contains(clean[2].name) && expected.description.contains("100"))
        // The inspector refuses it the same way.
        #expect(throws: expected) { _ = try AdapterInspector().spectra(of: adapterA) }
    }

    @Test("options are checked before any module is read", arguments: [
        (RankPolicy.fixed(16), 8, DType?.none), (RankPolicy(.energy(0.9), maxRank: 16), 8, nil),
        (RankPolicy.fixed(4), 0, nil), (RankPolicy.fixed(4), AdapterSqueezer.maxDeploymentRank + 1, nil),
        (RankPolicy.fixed(4), 8, DType.i32), (RankPolicy.fixed(4), 8, DType.f64),
    ])
    func invalidOptions(policy: RankPolicy, rank: Int, dtype: DType?) throws {
        let dir = AdapterFixture.temporaryDirectory("squeeze-options")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try Self.makeSource(in: dir, dtype: .f32)
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(policy: policy), deploymentRank: rank, dtype: dtype)
        do {
            _ = try squeezer.squeeze(source)
            Issue.record("options accepted")
        } catch {
            guard case .invalidOptions = error else { Issue.record("wrong error \(error)"); return }
        }
    }

    @Test("the deployment rank is accepted at its bound")
    func rankBound() throws {
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(policy: .fixed(1)), deploymentRank: AdapterSqueezer.maxDeploymentRank)
        try squeezer.validate()
    }
}
