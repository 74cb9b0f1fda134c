/// Bounds applied while reading a safetensors file, so a hostile or corrupt file costs
/// bounded memory and time before it is rejected. Each is checked as "value > limit":
/// a file exactly at a limit is accepted.
public struct SafetensorsLimits: Sendable, Equatable {
    /// Largest accepted JSON header, in bytes (the 8-byte length prefix's value).
    /// 100 MB is the reference implementation's `MAX_HEADER_SIZE` (huggingface/safetensors `tensor.rs`).
    public var maxHeaderBytes: Int = 100_000_000
    /// Most tensors one file may describe (`__metadata__` is not a tensor).
    public var maxTensorCount: Int = 1_000_000
    /// Most dimensions one tensor's shape may have. The reference sets no bound; 8 covers
    /// every weight layout in use (LoRA factors are rank 2, convolutions rank 4).
    public var maxRank: Int = 8

    public init(maxHeaderBytes: Int = 100_000_000, maxTensorCount: Int = 1_000_000, maxRank: Int = 8) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxTensorCount = maxTensorCount
        self.maxRank = maxRank
    }
}
