/// One adapted module: where its two factors live in the file and what they mean.
/// Shapes follow PEFT: `A` is r×in, `B` is out×r. A convolution's `A` is stored [r, in, kh, kw]
/// and read as r×(in·kh·kw); its `B` is [out, r, 1, 1], read as out×r.
public struct LoRAModule: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, Codable {
        case linear, embedding, conv
    }

    /// The module's path without the `base_model.model.` prefix (what PEFT patterns match), e.g.
    /// `model.layers.0.self_attn.q_proj`; for kohya, the flattened key, e.g. `lora_unet_..._proj_in`.
    public let name: String
    /// The tensor-name prefix before `.lora_A` / `.lora_down` (e.g. `base_model.model.model.layers.0.self_attn.q_proj`).
    public let key: String
    public let kind: Kind
    public let aTensor: TensorEntry
    public let bTensor: TensorEntry
    public let rank: Int
    public let inFeatures: Int
    public let outFeatures: Int
    public let alpha: Double
    /// The update is `scale · B · A`.
    public let scale: Double

    /// The dtype the module's factors are stored in (that of `A`).
    public var dtype: DType { aTensor.dtype }

    /// Parameters held by the two factors: r·(in + out).
    public var parameterCount: Int { rank * (inFeatures + outFeatures) }

    /// Parameters at another rank.
    public func parameterCount(atRank t: Int) -> Int { t * (inFeatures + outFeatures) }

    /// Checks the two factors' shapes against each other and builds the module.
    /// `A` must have two or more dimensions, `B` must be [out, r] followed by as many 1s as `A` has
    /// kernel dimensions.
    static func make(name: String, key: String, embedding: Bool, a: TensorEntry, b: TensorEntry,
                     alpha: Double, maxRank: Int = .max, scale: (Int) -> Double) throws(AdapterError) -> LoRAModule {
        for t in [a, b] where !t.dtype.isFloatReadable {
            throw .unsupportedDType(tensor: t.name, dtype: t.dtype)
        }
        guard a.shape.count >= 2 else {
            throw .shapeMismatch(tensor: a.name, detail: "shape \(a.shape) must have at least 2 dimensions [r, in, …]")
        }
        let r = a.shape[0]
        guard r >= 1 else { throw .shapeMismatch(tensor: a.name, detail: "shape \(a.shape) has rank 0") }
        guard r <= maxRank else { throw .rankTooLarge(tensor: a.name, rank: r, limit: maxRank) }
        guard b.shape.count == a.shape.count else {
            throw .shapeMismatch(tensor: b.name, detail: "shape \(b.shape) has \(b.shape.count) dimensions but lora_A \(a.shape) has \(a.shape.count)")
        }
        guard b.shape[1] == r else {
            throw .shapeMismatch(tensor: b.name, detail: "shape \(b.shape) does not match lora_A rank \(r)")
        }
        guard b.shape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
            throw .shapeMismatch(tensor: b.name, detail: "shape \(b.shape): only 1×1 kernels are supported on the lora_B side")
        }
        let inFeatures = a.shape.dropFirst().reduce(1, *)  // products already checked by the safetensors parser
        let out = b.shape[0]
        guard inFeatures >= 1, out >= 1 else {
            throw .shapeMismatch(tensor: a.name, detail: "module \(name) has an empty dimension (A \(a.shape), B \(b.shape))")
        }
        let kind: Kind = embedding ? .embedding : (a.shape.count > 2 ? .conv : .linear)
        return LoRAModule(name: name, key: key, kind: kind, aTensor: a, bTensor: b, rank: r,
                          inFeatures: inFeatures, outFeatures: out, alpha: alpha, scale: scale(r))
    }
}
