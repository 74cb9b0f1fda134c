/// Bounds on what an adapter's config and tensors may make the reader do, so a hostile upload costs
/// bounded memory and time before it is refused. Each is checked as "value > limit": an adapter
/// exactly at a limit is accepted. (`SafetensorsLimits` bounds the file format underneath.)
public struct AdapterLimits: Sendable, Equatable {
    /// LoRA modules in one adapter. 65,536 holds a DeepSeek-V3-sized mixture of experts with every
    /// expert adapted (61 layers × 256 experts × 3 projections, plus attention).
    public var maxModules: Int
    /// The LoRA rank of one module (`r`, or the rows of its `lora_A`). Each module's squeeze and
    /// spectrum build r×r matrices: r = 4096 is 128 MiB of doubles per module and worker.
    public var maxRank: Int
    /// Keys in `rank_pattern`, and in `alpha_pattern`.
    public var maxPatternKeys: Int
    /// Bytes of one pattern key.
    public var maxPatternKeyBytes: Int
    /// Steps that matching every pattern key against every module name may take, bounded before any
    /// matching starts (see `PatternTable.cost`): about a second of work.
    public var maxPatternWork: Int

    public init(maxModules: Int = 65_536, maxRank: Int = 4096, maxPatternKeys: Int = 4096,
                maxPatternKeyBytes: Int = 1024, maxPatternWork: Int = 1_000_000_000) {
        self.maxModules = maxModules
        self.maxRank = maxRank
        self.maxPatternKeys = maxPatternKeys
        self.maxPatternKeyBytes = maxPatternKeyBytes
        self.maxPatternWork = maxPatternWork
    }
}
