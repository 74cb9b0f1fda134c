import AdapterFormats

/// An adapter merged into a base model's safetensors files: every weight a module updates becomes
/// `W + ΔW` (ΔW = s·B·A in the weight's own layout, as `DenseDelta` computes it), in the weight's
/// dtype, computed in double precision and rounded once; every other byte of the shard — its
/// header included — is the base's, so untargeted tensors are byte-identical and the shard's
/// layout, offsets and index stay valid.
///
/// Planned from the shards' headers alone (`init` checks every module finds its weight, of its
/// shape and a float dtype, before anything is computed); `write(shard:…)` then produces one shard,
/// tensor by tensor and panel by panel, so memory stays bounded by a panel and the pages of the
/// tensor being read.
public struct ModelMerge: Sendable {
    public struct Target: Sendable {
        public let entry: DenseDelta.Entry
        /// The base weight's name and the shard that holds it.
        public let tensor: String
        public let shard: String
    }

    public let delta: DenseDelta
    /// The weights the adapter updates, by name.
    public let targets: [String: Target]

    /// Plans the merge of `adapter` into a base whose safetensors files have these headers.
    public init(adapter: LoRAAdapter, shards: [String: SafetensorsHeader]) throws {
        delta = try DenseDelta(adapter: adapter)
        var shardOf: [String: (String, TensorEntry)] = [:]
        for (name, header) in shards { for t in header.tensors { shardOf[t.name] = (name, t) } }
        var targets: [String: Target] = [:]
        for e in delta.entries {
            let tensor = String(e.spec.name.dropFirst(DenseDelta.tensorPrefix.count))
            guard let (shard, base) = shardOf[tensor] else {
                throw ModelMergeError.missingTensor(module: e.module.name, tensor: tensor)
            }
            guard base.dtype.isFloatWritable else { throw ModelMergeError.unsupportedDType(tensor: tensor, dtype: base.dtype) }
            guard base.shape == e.spec.shape else {
                throw ModelMergeError.shapeMismatch(tensor: tensor, base: base.shape, update: e.spec.shape)
            }
            targets[tensor] = Target(entry: e, tensor: tensor, shard: shard)
        }
        self.targets = targets
    }

    /// The shards with at least one updated weight; the others are the base's files unchanged.
    public var touchedShards: Set<String> { Set(targets.values.map(\.shard)) }

    /// Bytes of untouched tensor data copied per write.
    public static let copyChunkBytes = 8 << 20

    /// Writes shard `file` merged, in order, to `sink`: the base's header bytes, then each tensor
    /// (merged, or copied). `isCancelled` is polled between panels and chunks.
    public func write(_ file: SafetensorsFile, to sink: ([UInt8]) throws -> Void,
                      isCancelled: () -> Bool = { false }) throws {
        try sink(Array(file.headerBytes))
        for tensor in file.tensors {
            if isCancelled() { throw CancellationError() }
            let raw = file.rawBytes(of: tensor)
            if let target = targets[tensor.name] {
                try merge(target, base: raw, dtype: tensor.dtype, to: sink, isCancelled: isCancelled)
            } else {
                var offset = 0
                while offset < raw.count {
                    if isCancelled() { throw CancellationError() }
                    let n = min(Self.copyChunkBytes, raw.count - offset)
                    try sink(Array(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)])))
                    offset += n
                }
            }
            file.releasePages(of: tensor)
        }
    }

    private func merge(_ target: Target, base raw: UnsafeRawBufferPointer, dtype: DType,
                       to sink: ([UInt8]) throws -> Void, isCancelled: () -> Bool) throws {
        let width = dtype.byteWidth
        try delta.panels(of: target.entry) { firstRow, panel in
            if isCancelled() { throw CancellationError() }
            let count = panel.rows * panel.columns
            guard count > 0 else { return }
            let start = firstRow * panel.columns * width
            var sum = [Double](repeating: 0, count: count)
            sum.withUnsafeMutableBufferPointer { s in
                FloatConversion.decodeDoubles(UnsafeRawBufferPointer(rebasing: raw[start..<(start + count * width)]), as: dtype, into: s)
                panel.storage.withUnsafeBufferPointer { d in for i in 0..<count { s[i] += d[i] } }
            }
            let bytes = [UInt8](unsafeUninitializedCapacity: count * width) { out, initialized in
                sum.withUnsafeBufferPointer { FloatConversion.encode($0, as: dtype, into: UnsafeMutableRawPointer(out.baseAddress!)) }
                initialized = count * width
            }
            try sink(bytes)
        }
    }
}
