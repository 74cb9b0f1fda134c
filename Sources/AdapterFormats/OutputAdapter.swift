import Foundation

/// New factors for one module: `a` is t×in and `b` is out×t, flattened row-major, scale 1.
public struct ReplacementFactors: Sendable {
    public let a: [Float]
    public let b: [Float]
    public let rank: Int

    public init(a: [Float], b: [Float], rank: Int) {
        self.a = a
        self.b = b
        self.rank = rank
    }
}

/// An adapter ready to be written: its format's files as values (config text, tensors).
public struct OutputAdapter: Sendable {
    public let format: LoRAAdapter.Format
    public let tensors: [TensorToWrite]
    public let metadata: [String: String]?
    /// The file name of a kohya output (a PEFT output is always the two PEFT files).
    public let kohyaFileName: String

    /// The same adapter with another kohya file name.
    public func with(kohyaFileName name: String) -> OutputAdapter {
        OutputAdapter(format: format, tensors: tensors, metadata: metadata, kohyaFileName: name)
    }

    /// The config file's contents (PEFT only).
    public var configJSON: Data? { if case let .peft(c) = format { c.encoded() } else { nil } }

    /// Bytes of the weights file.
    public func weightsBytes() throws(SafetensorsError) -> [UInt8] {
        try SafetensorsWriter.encode(tensors, metadata: metadata)
    }

    /// Writes the adapter's files into `directory` (which must exist): PEFT's two files, or the kohya file.
    public func writeFiles(into directory: URL) throws {
        switch format {
        case .peft:
            try configJSON!.write(to: directory.appendingPathComponent(PEFTFiles.config))
            try SafetensorsWriter.write(tensors, metadata: metadata, to: directory.appendingPathComponent(PEFTFiles.weights))
        case .kohya:
            try SafetensorsWriter.write(tensors, metadata: metadata, to: directory.appendingPathComponent(kohyaFileName))
        }
    }
}

extension LoRAAdapter {
    /// This adapter with every module's factors replaced (in `modules` order), each module's scale
    /// folded in. `uniformRank` set: every module at that rank (the factors must already be padded to
    /// it), one `r`/`lora_alpha`; nil: each module at its own rank, described by rank/alpha patterns.
    public func replacing(_ factors: [ReplacementFactors], uniformRank: Int?, dtype: DType?,
                          kohyaFileName: String = "lora.safetensors") throws(AdapterError) -> OutputAdapter {
        guard factors.count == modules.count else {
            throw .shapeMismatch(tensor: "(adapter)", detail: "\(factors.count) replacements for \(modules.count) modules")
        }
        var encoded: [[TensorToWrite]] = []
        for (m, f) in zip(modules, factors) { encoded.append(try encode(f, for: m, dtype: dtype)) }
        return try assemble(encoded, ranks: factors.map(\.rank), uniformRank: uniformRank, kohyaFileName: kohyaFileName)
    }

    /// One module's new tensors, named canonically (PEFT: `<key>.lora_A.weight`, no adapter-name segment,
    /// which is what vLLM requires; kohya: `lora_down`/`lora_up` and `alpha` = rank, so scale 1).
    /// Independent per module, so a squeeze can encode on its worker threads.
    public func encode(_ f: ReplacementFactors, for module: LoRAModule, dtype: DType?) throws(AdapterError) -> [TensorToWrite] {
        let specs = outputSpecs(for: module, rank: f.rank, dtype: dtype)
        do throws(SafetensorsError) {
            var out = [try TensorToWrite.floats(f.a, name: specs[0].name, shape: specs[0].shape, dtype: specs[0].dtype),
                       try TensorToWrite.floats(f.b, name: specs[1].name, shape: specs[1].shape, dtype: specs[1].dtype)]
            if specs.count > 2 {
                out.append(try .floats([Float(f.rank)], name: specs[2].name, shape: specs[2].shape, dtype: specs[2].dtype))
            }
            return out
        } catch {
            throw .safetensors(file: specs[0].name, error)
        }
    }

    /// The names, dtypes and shapes `encode` gives a module's tensors at `rank`, without computing them.
    public func outputSpecs(for module: LoRAModule, rank: Int, dtype: DType?) -> [SafetensorsWriter.TensorSpec] {
        let outType = dtype ?? (module.dtype.isFloatWritable ? module.dtype : .f32)
        var aShape = module.aTensor.shape, bShape = module.bTensor.shape
        aShape[0] = rank
        bShape[1] = rank
        let (aName, bName) = names(for: module)
        var specs: [SafetensorsWriter.TensorSpec] = [.init(name: aName, dtype: outType, shape: aShape),
                                                     .init(name: bName, dtype: outType, shape: bShape)]
        if case .kohya = format { specs.append(.init(name: module.key + ".alpha", dtype: .f32, shape: [])) }
        return specs
    }

    /// The output adapter from every module's encoded tensors (in `modules` order) and ranks;
    /// other tensors pass through byte for byte and the config or metadata follows the new ranks.
    public func assemble(_ encoded: [[TensorToWrite]], ranks moduleRanks: [Int], uniformRank: Int?,
                         kohyaFileName: String = "lora.safetensors") throws(AdapterError) -> OutputAdapter {
        guard encoded.count == modules.count, moduleRanks.count == modules.count else {
            throw .shapeMismatch(tensor: "(adapter)", detail: "\(encoded.count) encoded modules for \(modules.count)")
        }
        var tensors = encoded.flatMap { $0 }
        for p in try passthroughOutput() {
            switch p.source {
            case let .mapped(entry):
                tensors.append(TensorToWrite(name: entry.name, dtype: entry.dtype, shape: entry.shape,
                                             bytes: Array(weights.rawBytes(of: entry))))
            case let .bytes(bytes):
                tensors.append(TensorToWrite(name: p.spec.name, dtype: p.spec.dtype, shape: p.spec.shape, bytes: bytes))
            }
        }
        switch format {
        case let .peft(config):
            let newConfig: PEFTConfig
            if let r = uniformRank {
                newConfig = config.uniform(rank: r)
            } else {
                var ranks: [String: Int] = [:]
                for (m, r) in zip(modules, moduleRanks) { ranks[m.name] = r }
                let counts = Dictionary(ranks.values.map { ($0, 1) }, uniquingKeysWith: +)
                let base = counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key ?? 1
                newConfig = try config.perModule(ranks: ranks, base: base)
            }
            return OutputAdapter(format: .peft(newConfig), tensors: tensors, metadata: outputMetadata(rank: uniformRank),
                                 kohyaFileName: kohyaFileName)
        case .kohya:
            return OutputAdapter(format: .kohya, tensors: tensors,
                                 metadata: outputMetadata(rank: uniformRank ?? moduleRanks.max()),
                                 kohyaFileName: kohyaFileName)
        }
    }

    /// The output's `__metadata__`: PEFT keeps the source's (or `format: pt`); kohya's
    /// `ss_network_dim` and `ss_network_alpha`, when present, become `rank` (every scale is then 1).
    func outputMetadata(rank: Int?) -> [String: String]? {
        switch format {
        case .peft:
            return metadata ?? ["format": "pt"]
        case .kohya:
            var meta = metadata
            if meta != nil, let r = rank {
                if meta?["ss_network_dim"] != nil { meta?["ss_network_dim"] = String(r) }
                if meta?["ss_network_alpha"] != nil { meta?["ss_network_alpha"] = String(r) }
            }
            return meta
        }
    }

    /// The tensors that are not LoRA factors, as the output carries them, in file order: byte for
    /// byte from the source (`.mapped`), except a PEFT `lora_B` bias whose module's scale is folded
    /// into the factors — PEFT (`lora_bias=True`) adds `scale · lora_B(lora_A(x))`, bias included, so
    /// the bias must carry the scale too — and kohya alphas, which the modules' tensors replace.
    func passthroughOutput() throws(AdapterError) -> [OutputPlan.Passthrough] {
        let replacedAlphas = Set(modules.map { $0.key + ".alpha" })
        let scales = Dictionary(modules.map { ($0.key, $0.scale) }, uniquingKeysWith: { first, _ in first })
        var out: [OutputPlan.Passthrough] = []
        for entry in passthrough {
            if case .kohya = format, replacedAlphas.contains(entry.name) { continue }
            if case .peft = format, let name = PEFTTensorName(entry.name), name.role == .bias, name.marker == "lora_B",
               let scale = scales[name.key], scale != 1 {
                let scaled = try scaledBias(entry, by: scale)
                out.append(.init(spec: .init(name: scaled.name, dtype: scaled.dtype, shape: scaled.shape), source: .bytes(scaled.bytes)))
                continue
            }
            out.append(.init(spec: .init(name: entry.name, dtype: entry.dtype, shape: entry.shape), source: .mapped(entry)))
        }
        return out
    }

    /// A lora_B bias times `scale`, in its own dtype (F64 stays F64).
    private func scaledBias(_ entry: TensorEntry, by scale: Double) throws(AdapterError) -> TensorToWrite {
        let values = try Self.finiteDoubles(weights, entry).map { $0 * scale }
        if entry.dtype == .f64 {
            return TensorToWrite(name: entry.name, dtype: .f64, shape: entry.shape,
                                 bytes: values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        }
        do throws(SafetensorsError) {
            return try .floats(values.map { Float($0) }, name: entry.name, shape: entry.shape, dtype: entry.dtype)
        } catch {
            throw .safetensors(file: entry.name, error)
        }
    }

    func names(for module: LoRAModule) -> (a: String, b: String) {
        switch format {
        case .kohya:
            (module.key + ".lora_down.weight", module.key + ".lora_up.weight")
        case .peft:
            module.kind == .embedding
                ? (module.key + ".lora_embedding_A", module.key + ".lora_embedding_B")
                : (module.key + ".lora_A.weight", module.key + ".lora_B.weight")
        }
    }
}
