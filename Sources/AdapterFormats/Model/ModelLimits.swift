/// Bounds on a model directory's structure, checked as "value > limit" (a directory exactly at a
/// limit is accepted). Shard sizes are bounded by the upload's own limit; these bound what is held
/// in memory and how many files one upload may create.
public struct ModelLimits: Sendable, Equatable {
    /// Files in one model directory (config, index, shards, tokenizer files). Gemma-2B has 11;
    /// a 405B model in 5 GB shards has about 200.
    public var maxFiles: Int = 512
    /// Bytes of `config.json` (read into memory).
    public var maxConfigBytes: Int = 1 << 20
    /// Bytes of `model.safetensors.index.json` (read into memory): a 1,000-layer mixture of experts
    /// maps about 200,000 tensors in 20 MB.
    public var maxIndexBytes: Int = 64 << 20
    /// Bytes of a file name (ext4's NAME_MAX).
    public var maxFileNameBytes: Int = 255

    public init() {}
}
