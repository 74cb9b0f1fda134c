import Foundation

/// A LoRA adapter read from disk or memory: its modules, the tensors passed through unchanged,
/// and the memory-mapped weights they point into.
public struct LoRAAdapter: Sendable {
    public enum Format: Sendable, Equatable {
        /// Hugging Face PEFT: `adapter_config.json` + `adapter_model.safetensors`.
        case peft(PEFTConfig)
        /// kohya / sd-scripts: one `.safetensors` with `lora_down`, `lora_up` and `alpha` tensors.
        case kohya

        public var name: String {
            switch self {
            case .peft: "peft"
            case .kohya: "kohya"
            }
        }
    }

    public let format: Format
    /// In file order of their `lora_A` tensor.
    public let modules: [LoRAModule]
    /// Tensors that are not LoRA factors (modules_to_save, biases, …): written back byte for byte.
    public let passthrough: [TensorEntry]
    public let weights: SafetensorsFile

    public var metadata: [String: String]? { weights.header.metadata }

    public var peftConfig: PEFTConfig? {
        if case let .peft(c) = format { c } else { nil }
    }

    /// The module's factors widened to Double (`A` r×in, `B` out×r, flattened row-major), refusing
    /// NaN and ±Inf with the tensor's name and the value's index.
    public func factors(of module: LoRAModule) throws(AdapterError) -> (a: [Double], b: [Double]) {
        (try Self.finiteDoubles(weights, module.aTensor), try Self.finiteDoubles(weights, module.bTensor))
    }

    static func finiteDoubles(_ weights: SafetensorsFile, _ entry: TensorEntry) throws(AdapterError) -> [Double] {
        let decoded: (values: [Double], firstNonFinite: Int?)
        do throws(SafetensorsError) { decoded = try weights.doubles(entry) } catch {
            throw .safetensors(file: entry.name, error)
        }
        if let i = decoded.firstNonFinite { throw .nonFinite(tensor: entry.name, index: i) }
        return decoded.values
    }

    /// Reads an adapter from a path: a PEFT directory, a PEFT `adapter_model.safetensors` beside its
    /// config, or a kohya `.safetensors` file.
    public static func load(at url: URL, limits: SafetensorsLimits = .init()) throws(AdapterError) -> LoRAAdapter {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .missingFile(url.path)
        }
        if isDirectory.boolValue { return try loadPEFT(directory: url, limits: limits) }
        let sibling = url.deletingLastPathComponent().appendingPathComponent(PEFTFiles.config)
        if url.lastPathComponent == PEFTFiles.weights, FileManager.default.fileExists(atPath: sibling.path) {
            return try loadPEFT(directory: url.deletingLastPathComponent(), limits: limits)
        }
        return try loadKohya(file: url, limits: limits)
    }

    static func open(_ url: URL, limits: SafetensorsLimits) throws(AdapterError) -> SafetensorsFile {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(url.path) }
        do { return try SafetensorsFile(contentsOf: url, limits: limits) } catch let e as SafetensorsError {
            throw .safetensors(file: url.lastPathComponent, e)
        } catch {
            throw .io(path: url.path, reason: "\(error)")
        }
    }
}

/// The file names of a PEFT adapter directory.
public enum PEFTFiles {
    public static let config = "adapter_config.json"
    public static let weights = "adapter_model.safetensors"
}
