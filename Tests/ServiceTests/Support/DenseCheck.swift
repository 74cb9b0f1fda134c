import AdapterFormats
import Testing
import TestSupport
// LAPACK.svd is internal to the engine; the reference below uses it on a matrix formed by plain loops,
// a different path from the engine's Gram/eigen route (as SqueezeEngineTests' BestApproximation does).
@testable import SqueezeEngine

/// One module's update `scale·B·A`, formed by loops in Double (no BLAS), and its dense SVD
/// (`dgesdd` on the formed out×in matrix): the independent reference a served squeeze is checked against.
struct DenseUpdate {
    let rows: Int
    let columns: Int
    let delta: [Double]
    let singularValues: [Double]
    private let u: Matrix<Double>
    private let vt: Matrix<Double>

    /// Σ_{l<t} σ_l² / Σ σ_l².
    func energy(rank t: Int) -> Double {
        singularValues.prefix(t).reduce(0) { $0 + $1 * $1 } / singularValues.reduce(0) { $0 + $1 * $1 }
    }

    /// The smallest t whose kept energy reaches `fraction` (the `energy` option's rule, by a plain scan).
    func rank(forEnergy fraction: Double) -> Int {
        (1...singularValues.count).first { energy(rank: $0) >= fraction } ?? singularValues.count
    }

    init(adapter: LoRAAdapter, module m: LoRAModule) throws {
        let (a, b) = try adapter.factors(of: m)
        rows = m.outFeatures
        columns = m.inFeatures
        delta = ReferenceMath.product(b: b, a: a, out: m.outFeatures, rank: m.rank, in: m.inFeatures, scale: m.scale)
        (u, singularValues, vt) = try LAPACK.svd(try Matrix(rows: rows, columns: columns, storage: delta))
    }

    /// The singular values of a dense matrix given row-major (a fine-tune's ΔW, formed by the caller).
    static func singularValues(of delta: [Double], rows: Int, columns: Int) throws -> [Double] {
        try LAPACK.svd(try Matrix(rows: rows, columns: columns, storage: delta)).s
    }

    /// The best rank-t approximation (Eckart–Young), row-major out×in.
    func truncated(rank t: Int) -> [Double] {
        var x = [Double](repeating: 0, count: rows * columns)
        for l in 0..<min(t, singularValues.count) {
            for i in 0..<rows {
                let us = u[i, l] * singularValues[l]
                for j in 0..<columns { x[i * columns + j] += us * vt[l, j] }
            }
        }
        return x
    }
}

/// Checks of what the service served against the uploaded source.
enum ServedCheck {
    /// Relative tolerance on ‖B'A' − X_t‖_F / ‖X_t‖_F, as in SqueezeEngineTests' SqueezeCheck: the engine
    /// works in double and rounds each factor once to the output dtype (u = 2⁻²⁴ F32, 2⁻¹¹ F16, 2⁻⁹ BF16);
    /// the product's error is at most about 2u·√t. F32 1e-5 leaves two orders of margin; F16 3e-3 and
    /// BF16 1e-2 about 2.5×. A wrong subspace costs σ_{t+1}/‖X_t‖ ≳ 1e-2 on these decaying spectra.
    static func tolerance(_ dtype: DType) -> Double {
        switch dtype {
        case .f16: 3e-3
        case .bf16: 1e-2
        default: 1e-5
        }
    }

    /// `written` (a served squeeze) has every module of `source` at exactly `rank`, scale 1, in `dtype`,
    /// zero past the kept directions, and `B'·A'` equal to the best rank-t approximation of the source
    /// module's `scale·B·A`, t = `kept[name]` when given, else min(R, r, out, in).
    static func squeezed(_ written: LoRAAdapter, source: LoRAAdapter, rank R: Int, dtype: DType,
                         tolerance: Double? = nil, kept keptOverride: [String: Int] = [:],
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        let tol = tolerance ?? Self.tolerance(dtype)
        #expect(Set(written.modules.map(\.name)) == Set(source.modules.map(\.name)), "module names differ", sourceLocation: sourceLocation)
        #expect(written.modules.count == source.modules.count, sourceLocation: sourceLocation)
        for m in source.modules {
            guard let w = written.modules.first(where: { $0.name == m.name }) else {
                Issue.record("\(m.name) is missing from the squeezed adapter", sourceLocation: sourceLocation)
                continue
            }
            #expect(w.rank == R, "\(w.name): rank \(w.rank), expected \(R)", sourceLocation: sourceLocation)
            #expect(w.scale == 1, "\(w.name): scale \(w.scale)", sourceLocation: sourceLocation)
            #expect(w.dtype == dtype, "\(w.name): dtype \(w.dtype)", sourceLocation: sourceLocation)
            #expect(w.outFeatures == m.outFeatures && w.inFeatures == m.inFeatures, "\(w.name): shape", sourceLocation: sourceLocation)
            let kept = keptOverride[m.name] ?? min(R, m.rank, m.outFeatures, m.inFeatures)
            let (a, b) = try written.factors(of: w)
            #expect(a[(kept * w.inFeatures)...].allSatisfy { $0 == 0 }, "\(w.name): A' rows past \(kept) are not zero", sourceLocation: sourceLocation)
            for i in 0..<w.outFeatures {
                for j in kept..<w.rank where b[i * w.rank + j] != 0 {
                    Issue.record("\(w.name): B'[\(i), \(j)] = \(b[i * w.rank + j]) in the padding", sourceLocation: sourceLocation)
                }
            }
            let best = try DenseUpdate(adapter: source, module: m).truncated(rank: kept)
            let product = ReferenceMath.product(b: b, a: a, out: w.outFeatures, rank: w.rank, in: w.inFeatures)
            let error = ReferenceMath.frobenius(product, minus: best)
            let norm = ReferenceMath.frobenius(best)
            #expect(error <= tol * norm, "\(w.name): ‖B'A' − X_\(kept)‖ = \(error), ‖X_\(kept)‖ = \(norm), tolerance \(tol)",
                    sourceLocation: sourceLocation)
        }
    }

    /// A delta.safetensors holds, for every module of `reference`, a tensor `delta.<name>.weight` equal to the
    /// module's `scale·B·A` (formed by loops in Double) within `tolerance`·‖ΔW‖: shape [out, in], or for an
    /// embedding the transpose [in, out] (the embedding table's own layout).
    /// F32 output rounds each element once (2⁻²⁴ relative), so 1e-6 of the norm has a margin of ten.
    static func delta(_ file: SafetensorsFile, reference: LoRAAdapter, tolerance: Double = 1e-6,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(file.tensors.count == reference.modules.count, "\(file.tensors.count) tensors for \(reference.modules.count) modules",
                sourceLocation: sourceLocation)
        for m in reference.modules {
            guard let t = file.tensors.first(where: { $0.name == "delta." + m.name + ".weight" }) else {
                Issue.record("delta.safetensors has no delta.\(m.name).weight", sourceLocation: sourceLocation)
                continue
            }
            let transposed = m.kind == .embedding
            #expect(t.shape == (transposed ? [m.inFeatures, m.outFeatures] : [m.outFeatures, m.inFeatures]),
                    "\(t.name): shape \(t.shape)", sourceLocation: sourceLocation)
            let (a, b) = try reference.factors(of: m)
            var expected = ReferenceMath.product(b: b, a: a, out: m.outFeatures, rank: m.rank, in: m.inFeatures, scale: m.scale)
            if transposed {
                let d = expected
                for i in 0..<m.outFeatures {
                    for j in 0..<m.inFeatures { expected[j * m.outFeatures + i] = d[i * m.inFeatures + j] }
                }
            }
            let actual = try file.floats(t).map(Double.init)
            try #require(actual.count == expected.count, sourceLocation: sourceLocation)
            let error = ReferenceMath.frobenius(actual, minus: expected)
            let norm = ReferenceMath.frobenius(expected)
            #expect(norm > 0 && error <= tolerance * norm, "\(t.name): ‖ΔW_served − s·B·A‖ = \(error), ‖s·B·A‖ = \(norm)",
                    sourceLocation: sourceLocation)
        }
    }
}
