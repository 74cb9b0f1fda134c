/// Why an adapter cannot be read, squeezed or written. Each case names the file, field, tensor or
/// module at fault, in words a user can act on.
public enum AdapterError: Error, Equatable, CustomStringConvertible {
    case missingFile(String)
    case notAnAdapter(path: String, reason: String)
    case invalidConfig(field: String, reason: String)
    case unsupported(String)
    case safetensors(file: String, SafetensorsError)
    case missingPartner(module: String, missing: String)
    case shapeMismatch(tensor: String, detail: String)
    case rankMismatch(module: String, config: Int, tensors: Int)
    case noModules(String)
    case unsupportedDType(tensor: String, dtype: DType)
    case nonFinite(tensor: String, index: Int)
    case io(path: String, reason: String)
    /// More LoRA modules than `AdapterLimits.maxModules`.
    case tooManyModules(limit: Int)
    /// A module's rank is above `AdapterLimits.maxRank`.
    case rankTooLarge(tensor: String, rank: Int, limit: Int)
    /// Matching the config's patterns against the module names would take more than `maxPatternWork` steps.
    case patternsTooCostly(modules: Int, work: Int, limit: Int)

    public var description: String {
        switch self {
        case let .missingFile(path):
            "\(path): no such file"
        case let .notAnAdapter(path, reason):
            "\(path): not a LoRA adapter: \(reason)"
        case let .invalidConfig(field, reason):
            "adapter_config.json: field \"\(field)\" \(reason)"
        case let .unsupported(what):
            what
        case let .safetensors(file, error):
            "\(file): \(error)"
        case let .missingPartner(module, missing):
            "module \(module): has no \(missing) tensor"
        case let .shapeMismatch(tensor, detail):
            "tensor \(tensor): \(detail)"
        case let .rankMismatch(module, config, tensors):
            "module \(module): adapter_config.json gives rank \(config) but its tensors have rank \(tensors)"
        case let .noModules(path):
            "\(path): holds no LoRA modules (no lora_A/lora_B or lora_down/lora_up tensors)"
        case let .unsupportedDType(tensor, dtype):
            "tensor \(tensor): dtype \(dtype.rawValue) is not a floating-point type this tool reads (F32, F16, BF16, F64)"
        case let .nonFinite(tensor, index):
            "tensor \(tensor): holds a NaN or infinite value at flat index \(index)"
        case let .io(path, reason):
            "\(path): \(reason)"
        case let .tooManyModules(limit):
            "the adapter has more than \(limit) LoRA modules (maxModules)"
        case let .rankTooLarge(tensor, rank, limit):
            "tensor \(tensor): rank \(rank) is above the largest accepted LoRA rank, \(limit) (maxRank)"
        case let .patternsTooCostly(modules, work, limit):
            "adapter_config.json: matching rank_pattern and alpha_pattern against \(modules) modules could take \(work) steps, more than the \(limit) allowed (maxPatternWork); use fewer or simpler keys"
        }
    }
}
