/// The layout an adapter was uploaded in. The store only records it; it knows nothing of either.
public enum AdapterFormat: String, Sendable, Codable, CaseIterable {
    /// Hugging Face PEFT: `adapter_config.json` + `adapter_model.safetensors` (config required).
    case peft
    /// kohya-ss: one `.safetensors` (no config blob).
    case kohya
}
