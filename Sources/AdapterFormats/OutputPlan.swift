import Foundation

/// A squeeze's output at one uniform rank, known before any module is computed: every tensor's name,
/// dtype and shape in file order, the metadata and the config. A writer can put the header first and
/// stream the data after it, module by module, without holding the output in memory.
public struct OutputPlan: Sendable {
    /// A tensor that is not a LoRA factor, as the output carries it.
    public struct Passthrough: Sendable {
        public enum Source: Sendable {
            /// Byte for byte from the source file (read from the mapping when written).
            case mapped(TensorEntry)
            /// Recomputed (a scaled bias): small.
            case bytes([UInt8])
        }
        public let spec: SafetensorsWriter.TensorSpec
        public let source: Source
    }

    public let rank: Int
    /// Each module's tensors, in `adapter.modules` order.
    public let moduleTensors: [[SafetensorsWriter.TensorSpec]]
    public let passthrough: [Passthrough]
    public let metadata: [String: String]?
    /// The output's `adapter_config.json` (PEFT only).
    public let configJSON: Data?
    /// The length prefix and JSON header of the weights file.
    public let header: [UInt8]
    /// The weights file's length: the header and every tensor's bytes.
    public let weightsBytes: Int

    /// Every tensor in file order.
    public var specs: [SafetensorsWriter.TensorSpec] { moduleTensors.flatMap { $0 } + passthrough.map(\.spec) }
}

extension LoRAAdapter {
    /// The output of replacing every module's factors with `rank` directions in `dtype` (nil keeps
    /// each module's), as `replacing(_:uniformRank:dtype:)` and `assemble` would write it.
    public func outputPlan(rank: Int, dtype: DType?) throws(AdapterError) -> OutputPlan {
        let moduleTensors = modules.map { outputSpecs(for: $0, rank: rank, dtype: dtype) }
        let passthrough = try passthroughOutput()
        let metadata = outputMetadata(rank: rank)
        let specs = moduleTensors.flatMap { $0 } + passthrough.map(\.spec)
        let header: [UInt8]
        do throws(SafetensorsError) { header = try SafetensorsWriter.header(specs, metadata: metadata) } catch {
            throw .safetensors(file: PEFTFiles.weights, error)
        }
        var total = header.count
        for spec in specs {
            // Every size was checked for overflow by `header`; their sum still may not fit.
            guard let bytes = SafetensorsHeader.byteCount(of: spec.shape, dtype: spec.dtype),
                  case (let sum, false) = total.addingReportingOverflow(bytes) else {
                throw .safetensors(file: PEFTFiles.weights, .sizeOverflow(tensor: spec.name, dtype: spec.dtype, shape: spec.shape))
            }
            total = sum
        }
        let config: Data?
        if case let .peft(c) = format { config = c.uniform(rank: rank).encoded() } else { config = nil }
        return OutputPlan(rank: rank, moduleTensors: moduleTensors, passthrough: passthrough, metadata: metadata,
                          configJSON: config, header: header, weightsBytes: total)
    }
}
