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
        }
    }
}
