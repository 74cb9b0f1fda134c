import AdapterFormats

/// Why an adapter-level squeeze failed, naming the module when one is at fault.
public enum AdapterSqueezeError: Error, Equatable, CustomStringConvertible {
    case adapter(AdapterError)
    case module(name: String, SqueezeError)
    case invalidOptions(String)

    public var description: String {
        switch self {
        case let .adapter(e): e.description
        case let .module(name, e): "module \(name): \(e)"
        case let .invalidOptions(why): why
        }
    }
}

extension AdapterSqueezeError {
    /// A module's failure; a NaN/Inf is reported against its tensor's name.
    init(_ error: SqueezeError, module m: LoRAModule) {
        if case let .nonFinite(factor, index) = error {
            self = .adapter(.nonFinite(tensor: factor == "lora_A" ? m.aTensor.name : m.bTensor.name, index: index))
        } else {
            self = .module(name: m.name, error)
        }
    }
}
