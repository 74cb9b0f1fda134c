import AdapterFormats

/// The dense update `ΔW = s·B·A` of every module as one safetensors file (`delta.safetensors`), for
/// those who add it to the base weights themselves. Produced as a header and then module by module,
/// row panel by row panel, so memory stays bounded by one panel whatever the module's size.
///
/// It is a delta, never weights: each tensor is named `delta.` + the base weight's parameter name
/// (`delta.<module>.weight`; PEFT's prefix dropped, kohya keys as they are), so loading the file as a
/// model's weights matches nothing and fails loudly instead of replacing weights by their update.
/// The header's metadata says so (`lora_squeeze.kind` = `delta`). Shapes are those of the base
/// weight: [out, in] for linear layers, [out, in, kh, kw] for convolutions, [in, out] (the
/// transpose) for embeddings and for `fan_in_fan_out` layers, as PEFT's `get_delta_weight` returns them.
public struct DenseDelta: Sendable {
    public struct Entry: Sendable {
        public let module: LoRAModule
        public let spec: SafetensorsWriter.TensorSpec
        let transposed: Bool
    }

    public let adapter: LoRAAdapter
    public let entries: [Entry]
    /// The length prefix and JSON header.
    public let header: [UInt8]
    /// The whole file's length: known before any module is computed, so it can be a Content-Length.
    public let totalBytes: Int

    /// What every tensor name starts with: the rest is the base weight's name.
    public static let tensorPrefix = "delta."
    /// The file name, in errors and downloads.
    public static let fileName = "delta.safetensors"
    /// The header's metadata: what the file is, and how to use it.
    public static let metadata = [
        "format": "pt",
        "lora_squeeze.kind": "delta",
        "lora_squeeze.usage": "each tensor delta.<name> is the update to add to the base weight <name>, in that weight's shape and layout",
    ]

    /// Rows of ΔW computed at once (bounded so a panel of the widest module stays a few MiB).
    public static let panelElements = 1 << 20

    public init(adapter: LoRAAdapter, dtype: DType? = nil) throws(AdapterSqueezeError) {
        if let d = dtype, !d.isFloatWritable { throw .invalidOptions("delta dtype \(d.rawValue) is not F32, F16 or BF16") }
        self.adapter = adapter
        let fanInFanOut = adapter.peftConfig?.fanInFanOut ?? false
        var entries: [Entry] = []
        var total = 0
        for m in adapter.modules {
            let transposed = m.kind == .embedding || fanInFanOut
            var shape = transposed ? [m.inFeatures, m.outFeatures] : [m.outFeatures, m.inFeatures]
            if m.kind == .conv { shape = [m.outFeatures] + Array(m.aTensor.shape.dropFirst()) }
            let outType = dtype ?? (m.dtype.isFloatWritable ? m.dtype : .f32)
            let name = Self.tensorPrefix + (m.name.hasSuffix(".weight") ? m.name : m.name + ".weight")
            entries.append(Entry(module: m, spec: .init(name: name, dtype: outType, shape: shape), transposed: transposed))
            // out × in is the dense size, which no stored tensor bounds: a hostile [1, 2³¹] × [2³¹, 1]
            // pair is 8 GiB of factors and 2⁶² elements of ΔW.
            guard case (let elements, false) = m.outFeatures.multipliedReportingOverflow(by: m.inFeatures),
                  case (let bytes, false) = elements.multipliedReportingOverflow(by: outType.byteWidth),
                  case (let sum, false) = total.addingReportingOverflow(bytes) else {
                throw .adapter(.safetensors(file: Self.fileName, .sizeOverflow(tensor: name, dtype: outType, shape: shape)))
            }
            total = sum
        }
        self.entries = entries
        do throws(SafetensorsError) {
            header = try SafetensorsWriter.header(entries.map(\.spec), metadata: Self.metadata)
        } catch {
            throw .adapter(.safetensors(file: Self.fileName, error))
        }
        guard case (let length, false) = header.count.addingReportingOverflow(total) else {
            throw .adapter(.safetensors(file: Self.fileName, .sizeOverflow(tensor: "(file)", dtype: dtype ?? .f32, shape: [])))
        }
        totalBytes = length
    }

    /// Writes the whole file to `sink` in order: the header, then each module's bytes in panels.
    /// `sink` may throw (a client went away) to stop early.
    public func write(to sink: ([UInt8]) throws -> Void) throws {
        try sink(header)
        for e in entries { try write(e, to: sink) }
    }

    /// One module's ΔW bytes, panel by panel.
    public func write(_ e: Entry, to sink: ([UInt8]) throws -> Void) throws {
        try panels(of: e) { _, panel in try sink(FloatConversion.encode(panel.storage.map { Float($0) }, as: e.spec.dtype)) }
    }

    /// One module's ΔW in the stored tensor's layout (`spec.shape`, row-major), a panel of whole rows
    /// at a time: `body(firstRow, panel)`, the panel h × columns with h rows from `firstRow`.
    public func panels(of e: Entry, _ body: (Int, Matrix<Double>) throws -> Void) throws {
        let m = e.module
        let update: LowRankUpdate
        do throws(SqueezeError) { update = try AdapterSqueezer.update(of: m, in: adapter) } catch {
            throw AdapterSqueezeError(error, module: m)
        }
        let (a, b) = try update.materialized()  // r×in and out×r: the factors, small beside ΔW
        // Rows of the stored tensor: ΔW's rows, or for a transposed tensor ΔWᵀ's rows = ΔW's columns.
        let (rows, cols) = e.transposed ? (m.inFeatures, m.outFeatures) : (m.outFeatures, m.inFeatures)
        let height = max(1, Self.panelElements / max(cols, 1))
        var start = 0
        while start < rows {
            let h = min(height, rows - start)
            let panel: Matrix<Double>
            if e.transposed {
                // ΔWᵀ[start..<start+h, :] = s · A[:, start..<start+h]ᵀ · Bᵀ
                var aCols = Matrix<Double>(zeros: m.rank, h)
                for i in 0..<m.rank { for j in 0..<h { aCols[i, j] = a[i, start + j] } }
                panel = try BLAS.multiply(aCols, transposeA: true, b, transposeB: true, alpha: update.scale)
            } else {
                let bRows = Array(b.storage[(start * m.rank)..<((start + h) * m.rank)])
                panel = try BLAS.multiply(Matrix(unchecked: h, m.rank, bRows), a, alpha: update.scale)
            }
            try body(start, panel)
            start += h
        }
    }
}
