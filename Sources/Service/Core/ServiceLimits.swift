import AdapterFormats
import SqueezeEngine

/// Every bound the service enforces on what one request may cost, in one value (each limit
/// named), each with the status a client gets past it. Checked as "value > limit": a request exactly
/// at a limit is served. Printed at start-up; the README's settings table lists the flags.
/// (The HTTP server's own bounds are `HTTPLimits`.)
public struct ServiceLimits: Sendable, Equatable {
    /// The largest upload (413 past it).
    public var maxUploadBytes: Int = 8 << 30
    /// The largest base model upload, a whole model directory (413 past it): a 27B model in bf16 is
    /// 55 GB.
    public var maxBaseUploadBytes: Int = 64 << 30
    /// The largest `adapter_config.json` in an upload (413).
    public var maxConfigBytes: Int = 1 << 20
    /// Free space the data directory keeps: an upload whose Content-Length (or whose bytes so far)
    /// would leave less is refused with 507 before (or while) it is read, as is a squeeze whose output
    /// would.
    public var minFreeDiskBytes: Int64 = 1 << 30
    /// The largest deployment rank a request may ask for (400 past it): 512 is the largest
    /// `max_lora_rank` vLLM accepts.
    public var maxRank: Int = 512
    /// The largest file one request may have computed — a squeezed adapter's weights or a dense
    /// delta — computed from the request and the adapter's shapes before any work (422 past it).
    /// Outputs stream to disk, so this bounds disk and time per request, not memory.
    public var maxOutputBytes: Int64 = 4 << 30
    /// Squeezes (and merges) computing or waiting to compute at once; past it a new one gets 503 with
    /// Retry-After. Requests for a squeeze already in flight join it and do not count.
    public var squeezeQueue: Int = 64
    /// Requests from one client address that may wait on squeezes at once (429 with Retry-After).
    public var maxClientSqueezes: Int = 4
    /// The squeeze cache's byte budget; least recently used unpinned entries go first.
    public var cacheBudgetBytes: Int64 = 20 << 30
    /// Bytes pinned cache entries may hold (409 past it); nil means half of `cacheBudgetBytes`, so
    /// pins can never starve the cache of room.
    public var maxPinnedBytes: Int64?
    /// Adapters one normalize job may cover (400 past it).
    public var maxJobAdapters: Int = 10_000
    /// Validating an upload computes every module's spectrum; its work (`CostModel.spectra`, in
    /// flop-equivalents) may be at most this many per byte of the upload's weights (422 past it), so
    /// a small upload cannot buy a large computation. 4096 covers rank 4096 in bf16 (r/2 per byte).
    public var validationWorkPerByte: Double = 4096
    /// … and at least this much, whatever the upload's size: about a second of work.
    public var validationWorkFloor: Double = 1e10
    /// Bounds on an adapter's structure, checked from its header before anything is computed (422).
    public var adapter = AdapterLimits()
    /// Bounds on a base model directory's structure: files, their names, the JSON files read (422).
    public var model = ModelLimits()

    public init() {}

    /// The pinned-bytes cap in force.
    public var pinnedBytesCap: Int64 { maxPinnedBytes ?? cacheBudgetBytes / 2 }

    /// The validation work an upload with `weightsBytes` of weights may cost.
    public func validationWork(weightsBytes: Int) -> Double {
        max(validationWorkFloor, validationWorkPerByte * Double(weightsBytes))
    }

    /// One line per limit, for the start-up log.
    public var summary: [String] {
        [
            "upload: max \(maxUploadBytes) bytes (base models \(maxBaseUploadBytes), \(model.maxFiles) files), config max \(maxConfigBytes) bytes, keep \(minFreeDiskBytes) bytes free on disk",
            "squeeze: max rank \(maxRank), max output \(maxOutputBytes) bytes, queue \(squeezeQueue), \(maxClientSqueezes) per client",
            "cache: budget \(cacheBudgetBytes) bytes, pinned max \(pinnedBytesCap) bytes",
            "adapters: max \(adapter.maxModules) modules, LoRA rank max \(adapter.maxRank), validation work \(validationWorkPerByte)/byte (floor \(validationWorkFloor))",
            "patterns: max \(adapter.maxPatternKeys) keys of \(adapter.maxPatternKeyBytes) bytes, work max \(adapter.maxPatternWork); jobs: max \(maxJobAdapters) adapters",
        ]
    }
}
