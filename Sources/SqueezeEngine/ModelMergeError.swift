import AdapterFormats

/// Why an adapter cannot be merged into a base model, naming the module or tensor at fault.
public enum ModelMergeError: Error, Equatable, CustomStringConvertible {
    /// The base has no weight of the name the module updates.
    case missingTensor(module: String, tensor: String)
    /// The base weight's shape is not the update's.
    case shapeMismatch(tensor: String, base: [Int], update: [Int])
    /// The base weight is not F32, F16 or BF16, so there is nothing to add a float update to.
    case unsupportedDType(tensor: String, dtype: DType)

    public var description: String {
        switch self {
        case let .missingTensor(module, tensor):
            "module \(module) updates \(tensor), and the base model has no tensor of that name: is it the adapter's base model?"
        case let .shapeMismatch(tensor, base, update):
            "tensor \(tensor): the base model's shape \(base) is not the update's \(update): is it the adapter's base model?"
        case let .unsupportedDType(tensor, dtype):
            "tensor \(tensor) is \(dtype.rawValue) in the base model; only F32, F16 and BF16 weights can take an update"
        }
    }
}
