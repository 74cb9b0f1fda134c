import AdapterFormats
import Foundation

/// A full fine-tune turned into a LoRA adapter (the paper's randomized SVD on each dense update
/// ΔW = W_tuned − W_base): for every targeted 2-D weight, the rank-R factors of ΔW with the captured
/// energy and relative error measured against ‖ΔW‖ itself.
///
/// Planned from the two models' headers (`init` checks every tensor is in both, of one shape, and
/// picks the targets); `update` and `factor` then work one weight at a time, so memory is bounded by
/// one dense update in double precision (and the pages of the two tensors being read).
public struct ModelExtraction: Sendable {
    public struct Options: Sendable, Equatable {
        /// The adapter's rank R: every module is written at R (zero-padded below it).
        public var rank: Int
        /// Keep per module the smallest k ≤ R whose σ₁…σ_k hold this fraction of ‖ΔW‖² (nil: R).
        public var energy: Double?
        /// Module names or their last parts (PEFT's `target_modules` rule); nil: every 2-D weight
        /// that changed, embeddings and the output head excepted.
        public var targets: [String]?
        public var rsvd: RSVDOptions
        /// The weights are stored [in, out] (GPT-2's Conv1D): ΔW is transposed first and the adapter
        /// says `fan_in_fan_out`.
        public var fanInFanOut: Bool

        public init(rank: Int, energy: Double? = nil, targets: [String]? = nil, rsvd: RSVDOptions = .init(), fanInFanOut: Bool = false) {
            self.rank = rank
            self.energy = energy
            self.targets = targets
            self.rsvd = rsvd
            self.fanInFanOut = fanInFanOut
        }
    }

    /// One weight to extract: where it is in each model.
    public struct Pair: Sendable {
        /// The module (the weight's name without `.weight`).
        public let module: String
        public let tensor: String
        public let baseShard: String
        public let tunedShard: String
        public let shape: [Int]
    }

    /// The largest deployment rank an extraction may ask for.
    public static let maxRank = 4096
    /// Parts of a weight's name that mark an embedding or the output head: left out by default
    /// (they are the vocabulary's size; name them in `targets` to extract them anyway).
    public static let excludedByDefault = ["embed_tokens", "embed", "wte", "wpe", "lm_head", "embeddings", "shared"]

    public let options: Options
    public let pairs: [Pair]

    /// Elements of the base weight decoded at a time.
    static let chunkElements = 1 << 20

    public init(base: [String: SafetensorsHeader], tuned: [String: SafetensorsHeader], options: Options) throws(ModelExtractionError) {
        guard (1...Self.maxRank).contains(options.rank) else {
            throw .invalidOptions("rank \(options.rank) must be from 1 to \(Self.maxRank)")
        }
        if let f = options.energy, !(f > 0 && f <= 1) { throw .invalidOptions("energy \(f) must be in (0, 1]") }
        do throws(SqueezeError) { _ = try options.rsvd.validated() } catch { throw .invalidOptions(error.description) }
        func index(_ shards: [String: SafetensorsHeader]) -> [String: (String, TensorEntry)] {
            var out: [String: (String, TensorEntry)] = [:]
            for (shard, header) in shards { for t in header.tensors { out[t.name] = (shard, t) } }
            return out
        }
        let (b, t) = (index(base), index(tuned))
        if let missing = b.keys.sorted().first(where: { t[$0] == nil }) { throw .missingInTuned(tensor: missing) }
        if let extra = t.keys.sorted().first(where: { b[$0] == nil }) { throw .missingInBase(tensor: extra) }
        var pairs: [Pair] = []
        var matched = Set<String>()
        for name in b.keys.sorted() {
            let (baseShard, be) = b[name]!, (tunedShard, te) = t[name]!
            guard be.shape == te.shape else { throw .shapeMismatch(tensor: name, base: be.shape, tuned: te.shape) }
            guard name.hasSuffix(".weight") else { continue }
            let module = String(name.dropLast(".weight".count))
            let parts = module.split(separator: ".").map(String.init)
            let isMatrix = be.shape.count == 2 && be.dtype.isFloatReadable && te.dtype.isFloatReadable
            if let targets = options.targets {
                guard let target = targets.first(where: { $0 == module || module.hasSuffix("." + $0) }) else { continue }
                guard isMatrix else {
                    throw .invalidTarget("\(name) (matched by target \(target)) is not a 2-D float weight but \(be.dtype.rawValue) \(be.shape)")
                }
                matched.insert(target)
            } else {
                guard isMatrix, !parts.contains(where: { Self.excludedByDefault.contains($0) }) else { continue }
            }
            pairs.append(Pair(module: module, tensor: name, baseShard: baseShard, tunedShard: tunedShard, shape: be.shape))
        }
        if let targets = options.targets, let unmatched = targets.first(where: { !matched.contains($0) }) {
            throw .invalidTarget("target \(unmatched) matches no weight of the model")
        }
        self.options = options
        self.pairs = pairs
    }

    /// The dense update of `pair` (tuned − base), in the adapter's orientation [out, in]; nil when the
    /// weight did not change. Blocking; reads the two tensors once.
    public func update(_ pair: Pair, base: SafetensorsFile, tuned: SafetensorsFile) throws -> Matrix<Double>? {
        guard let be = base.header.entry(named: pair.tensor), let te = tuned.header.entry(named: pair.tensor) else {
            throw ModelExtractionError.missingInTuned(tensor: pair.tensor)
        }
        defer {
            base.releasePages(of: be)
            tuned.releasePages(of: te)
        }
        let (rawBase, rawTuned) = (base.rawBytes(of: be), tuned.rawBytes(of: te))
        if be.dtype == te.dtype, rawBase.elementsEqual(rawTuned) { return nil }
        let (rows, columns) = (pair.shape[0], pair.shape[1])
        // The tuned weight decoded whole (it becomes ΔW in place), the base's subtracted a chunk at a
        // time: one out×in buffer of doubles, not two.
        var delta = [Double](repeating: 0, count: rows * columns)
        delta.withUnsafeMutableBufferPointer { FloatConversion.decodeDoubles(rawTuned, as: te.dtype, into: $0) }
        var changed = false
        var scratch = [Double](repeating: 0, count: min(delta.count, Self.chunkElements))
        var start = 0
        while start < delta.count {
            let n = min(scratch.count, delta.count - start)
            let (from, width) = (start * be.dtype.byteWidth, be.dtype.byteWidth)
            scratch.withUnsafeMutableBufferPointer {
                FloatConversion.decodeDoubles(UnsafeRawBufferPointer(rebasing: rawBase[from..<(from + n * width)]), as: be.dtype, into: $0)
            }
            for i in 0..<n {
                delta[start + i] -= scratch[i]
                if delta[start + i] != 0 { changed = true }
            }
            start += n
        }
        guard changed else { return nil }
        if delta.contains(where: { !$0.isFinite }) {
            throw AdapterError.nonFinite(tensor: pair.tensor, index: delta.firstIndex { !$0.isFinite } ?? 0)
        }
        let matrix = Matrix(unchecked: rows, columns, delta)
        return options.fanInFanOut ? matrix.transposed : matrix
    }

    /// The rank-R factors of one update, with what they capture. `B'·A'` approximates ΔW (scale 1).
    public func factor(_ pair: Pair, update: Matrix<Double>) throws -> ExtractedModule {
        let started = ContinuousClock.now
        let norm2 = update.storage.reduce(0) { $0 + $1 * $1 }
        let available = min(update.rows, update.columns)
        let squeezed: SqueezedModule
        do throws(LinearAlgebraError) {
            squeezed = try RandomizedSVD.squeeze(.dense(update), policy: .fixed(min(options.rank, available)), options: options.rsvd,
                                                 seed: GaussianGenerator.mix(seed: options.rsvd.seed, name: pair.module))
        } catch {
            throw AdapterSqueezeError.module(name: pair.module, .linearAlgebra(error))
        }
        // σ from the sketch; ‖ΔW‖² exact, so the energy and error are against the whole update.
        let sigma = squeezed.singularValues
        var kept = min(options.rank, available, sigma.count)
        if let f = options.energy, norm2 > 0 {
            var sum = 0.0
            for (i, s) in sigma.prefix(kept).enumerated() {
                sum += s * s
                if sum >= f * norm2 { kept = i + 1; break }
            }
        }
        let captured = sigma.prefix(kept).reduce(0) { $0 + $1 * $1 }
        let energy = norm2 > 0 ? min(1, captured / norm2) : 1
        // Pad (or cut) to exactly R: rows of A' and columns of B' past `kept` are zero.
        let r = options.rank
        var a = Matrix<Float>(zeros: r, update.columns)
        var b = Matrix<Float>(zeros: update.rows, r)
        for i in 0..<min(kept, squeezed.a.rows) {
            for j in 0..<update.columns { a[i, j] = squeezed.a[i, j] }
            for j in 0..<update.rows { b[j, i] = squeezed.b[j, i] }
        }
        return ExtractedModule(module: pair.module, outFeatures: update.rows, inFeatures: update.columns, rank: kept, a: a, b: b,
                               energy: energy, relativeError: (max(0, 1 - energy)).squareRoot(), updateNorm: norm2.squareRoot(),
                               seconds: (ContinuousClock.now - started).extractionSeconds)
    }
}

/// One extracted module: rank-R factors (`b` out×R, `a` R×in, scale 1) of a dense update.
public struct ExtractedModule: Sendable {
    public let module: String
    public let outFeatures: Int
    public let inFeatures: Int
    /// Singular directions kept (≤ R; the rest of the R rows are zero).
    public let rank: Int
    public let a: Matrix<Float>
    public let b: Matrix<Float>
    /// Σ_{i≤k} σᵢ² / ‖ΔW‖²: the fraction of the update's energy the factors hold.
    public let energy: Double
    /// ‖ΔW − B'A'‖ / ‖ΔW‖ = √(1 − energy).
    public let relativeError: Double
    public let updateNorm: Double
    public let seconds: Double
}

extension Duration {
    var extractionSeconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

extension ModelExtraction {
    /// The adapter as PEFT writes it: `adapter_config.json` (r = lora_alpha = R, so the scale is 1;
    /// `target_modules` the last parts of the extracted modules' names) and the weights,
    /// `base_model.model.<module>.lora_A.weight` [R, in] and `…lora_B.weight` [out, R] in `dtype`.
    public func peftFiles(_ modules: [ExtractedModule], baseModel: String?, dtype: DType) throws -> (config: Data, weights: [UInt8]) {
        guard dtype.isFloatWritable else { throw ModelExtractionError.invalidOptions("dtype \(dtype.rawValue) is not F32, F16 or BF16") }
        var tensors: [TensorToWrite] = []
        for m in modules.sorted(by: { $0.module < $1.module }) {
            let key = "base_model.model." + m.module
            tensors.append(try .floats(m.a.storage, name: key + ".lora_A.weight", shape: [options.rank, m.inFeatures], dtype: dtype))
            tensors.append(try .floats(m.b.storage, name: key + ".lora_B.weight", shape: [m.outFeatures, options.rank], dtype: dtype))
        }
        let weights = try SafetensorsWriter.encode(tensors, metadata: ["format": "pt"])
        let targets = Set(modules.map { String($0.module.split(separator: ".").last ?? "") }).sorted()
        let fields: [String: JSONValue] = [
            "peft_type": .string("LORA"), "task_type": .string("CAUSAL_LM"),
            "base_model_name_or_path": baseModel.map { .string($0) } ?? .null,
            "r": .number(Double(options.rank)), "lora_alpha": .number(Double(options.rank)), "lora_dropout": .number(0),
            "bias": .string("none"), "target_modules": .array(targets.map { .string($0) }),
            "rank_pattern": .object([:]), "alpha_pattern": .object([:]),
            "use_rslora": .bool(false), "use_dora": .bool(false), "fan_in_fan_out": .bool(options.fanInFanOut),
            "modules_to_save": .null, "inference_mode": .bool(true), "init_lora_weights": .bool(true),
        ]
        return (try JSONValue.object(fields).encodedPretty(), weights)
    }
}
