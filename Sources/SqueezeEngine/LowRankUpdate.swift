/// One module's LoRA update `ΔW = scale · B · A`, with PEFT's shapes:
/// `A` is r×in (`lora_A`), `B` is out×r (`lora_B`). The factors are sources read panel by panel and
/// widened exactly to double precision, so the squeeze's arithmetic adds only double rounding.
public struct LowRankUpdate: Sendable {
    public let a: any MatrixSource
    public let b: any MatrixSource
    public let scale: Double

    public var rank: Int { a.rows }
    public var inFeatures: Int { a.columns }
    public var outFeatures: Int { b.rows }

    /// Factors read lazily (e.g. `TensorMatrix` over a mapped file). Non-finite values are found on the
    /// squeeze's first pass and refused then, before anything is produced.
    public init(aSource a: any MatrixSource, bSource b: any MatrixSource, scale: Double) throws(SqueezeError) {
        guard a.rows == b.columns else { throw .rankMismatch(aRows: a.rows, bColumns: b.columns) }
        guard scale.isFinite else { throw .invalidScale(scale) }
        self.a = a
        self.b = b
        self.scale = scale
    }

    /// In-memory factors, checked for NaN/±Inf at once.
    public init<S>(a: Matrix<S>, b: Matrix<S>, scale: Double) throws(SqueezeError) {
        if let i = a.storage.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(factor: "lora_A", index: i) }
        if let i = b.storage.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(factor: "lora_B", index: i) }
        try self.init(aSource: a, bSource: b, scale: scale)
    }

    /// The most singular directions the update can have: min(r, out, in).
    public var availableRank: Int { min(rank, inFeatures, outFeatures) }

    /// Both factors whole, in double precision (the randomized method and tests need them).
    public func materialized() throws(SqueezeError) -> (a: Matrix<Double>, b: Matrix<Double>) {
        (try a.materialized(factor: "lora_A"), try b.materialized(factor: "lora_B"))
    }

    /// The dense out×in update. For tests and for merging; the squeeze never needs it.
    public func dense() throws(SqueezeError) -> Matrix<Double> {
        let (a, b) = try materialized()
        do throws(LinearAlgebraError) { return try BLAS.multiply(b, a, alpha: scale) } catch { throw .linearAlgebra(error) }
    }
}

/// A dense update (a full fine-tune minus its base, as mergekit extracts), out×in.
public struct DenseUpdate: Sendable {
    public let matrix: Matrix<Double>

    public init(_ matrix: Matrix<Double>) throws(SqueezeError) {
        if let i = matrix.storage.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(factor: "delta", index: i) }
        self.matrix = matrix
    }

    public init(_ matrix: Matrix<Float>) throws(SqueezeError) {
        try self.init(matrix.converted(to: Double.self))
    }

    public var availableRank: Int { min(matrix.rows, matrix.columns) }
}
