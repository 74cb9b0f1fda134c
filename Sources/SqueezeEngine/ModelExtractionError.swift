import AdapterFormats

/// Why a base and a tuned model cannot be turned into an adapter, naming the tensor at fault.
public enum ModelExtractionError: Error, Equatable, CustomStringConvertible {
    case missingInTuned(tensor: String)
    case missingInBase(tensor: String)
    case shapeMismatch(tensor: String, base: [Int], tuned: [Int])
    /// A tensor the options name is not a 2-D float weight, or nothing matches a `--targets` entry.
    case invalidTarget(String)
    case nothingChanged
    case invalidOptions(String)

    public var description: String {
        switch self {
        case let .missingInTuned(tensor):
            "tensor \(tensor) is in the base model but not in the tuned one: are they the same architecture?"
        case let .missingInBase(tensor):
            "tensor \(tensor) is in the tuned model but not in the base: are they the same architecture?"
        case let .shapeMismatch(tensor, base, tuned):
            "tensor \(tensor) has shape \(base) in the base model and \(tuned) in the tuned one"
        case let .invalidTarget(why):
            why
        case .nothingChanged:
            "no targeted weight differs between the base and the tuned model: there is nothing to extract"
        case let .invalidOptions(why):
            why
        }
    }
}
