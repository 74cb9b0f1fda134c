import ArgumentParser
import AdapterFormats
import Foundation
import SqueezeEngine

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Turn a full fine-tune into a LoRA adapter: randomized SVD of each weight's update (tuned − base).",
        discussion: """
            BASE and TUNED are each a Hugging Face model directory (config.json and model.safetensors, or shards \
            with model.safetensors.index.json) or a single .safetensors file, with the same tensors and shapes. \
            Every 2-D weight that changed is extracted (embeddings and the output head only when named in \
            --targets), one at a time, into a PEFT adapter at rank R; each module's captured energy and relative \
            error ‖ΔW − B'A'‖/‖ΔW‖ are reported.
            """)

    @Option(help: "The base model: a model directory or a .safetensors file.")
    var base: String

    @Option(help: "The fine-tuned model, with the base's tensors and shapes.")
    var tuned: String

    @Option(help: "The adapter's rank R (every module written at R).")
    var rank: Int

    @Option(help: "The output directory (created atomically; must not exist or be empty unless --force).")
    var out: String

    @Option(help: "Keep per module the smallest k ≤ R holding this fraction of ‖ΔW‖² (0 < F ≤ 1); the rest of R is zero.")
    var energy: Double?

    @Option(help: "Comma-separated module names or their last parts (q_proj,v_proj). Default: every 2-D weight that changed.")
    var targets: String?

    @Option(help: "Output dtype (default: the tuned model's first float dtype).")
    var dtype: OutputDType?

    @Option(name: .customLong("base-model"), help: "base_model_name_or_path in adapter_config.json (default: --base).")
    var baseModel: String?

    @Flag(name: .customLong("fan-in-fan-out"), help: "The weights are stored [in, out] (GPT-2's Conv1D).")
    var fanInFanOut = false

    @Option(help: "rsvd oversampling p (sketch of R + p columns).")
    var oversample: Int = 10

    @Option(name: .customLong("power-iters"), help: "rsvd power (subspace) iterations q.")
    var powerIterations: Int = 2

    @Option(help: "rsvd seed; results reproduce for the same seed.")
    var seed: UInt64 = 0

    @Flag(help: "Replace a non-empty --out directory.")
    var force = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let options = ModelExtraction.Options(
            rank: rank, energy: energy,
            targets: targets.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } },
            rsvd: RSVDOptions(oversample: oversample, powerIterations: powerIterations, seed: seed), fanInFanOut: fanInFanOut)
        let baseWeights = try ModelWeights.open(URL(fileURLWithPath: base))
        let tunedWeights = try ModelWeights.open(URL(fileURLWithPath: tuned))
        let plan = try ModelExtraction(base: baseWeights.headers, tuned: tunedWeights.headers, options: options)
        let bar = ProgressBar(label: "extracting", enabled: !json && isatty(STDERR_FILENO) == 1)
        let started = ContinuousClock.now
        var modules: [ExtractedModule] = []
        for (i, pair) in plan.pairs.enumerated() {
            if let update = try plan.update(pair, base: baseWeights.shards[pair.baseShard]!, tuned: tunedWeights.shards[pair.tunedShard]!) {
                modules.append(try plan.factor(pair, update: update))
            }
            bar.update(i + 1, plan.pairs.count)
        }
        guard !modules.isEmpty else { throw ModelExtractionError.nothingChanged }
        let outputType = dtype?.dtype ?? tunedWeights.shards.values.flatMap(\.tensors).first { $0.dtype.isFloatWritable }?.dtype ?? .f32
        let files = try plan.peftFiles(modules, baseModel: baseModel ?? base, dtype: outputType)
        try AtomicDirectory.write(to: URL(fileURLWithPath: out), replace: force) { dir in
            try files.config.write(to: dir.appendingPathComponent(PEFTFiles.config))
            try Data(files.weights).write(to: dir.appendingPathComponent(PEFTFiles.weights))
        }
        let report = ExtractionReport(modules: modules, rank: rank, seconds: (ContinuousClock.now - started).seconds,
                                      skipped: plan.pairs.count - modules.count, outputBytes: files.weights.count)
        print(json ? try report.json() : report.text)
    }
}

/// What `extract` prints: every module's kept rank, captured energy and relative error.
struct ExtractionReport: Encodable {
    struct Module: Encodable {
        let name: String
        let shape: [Int]
        let rank: Int
        let energy: Double
        let relativeError: Double
        let seconds: Double
    }
    let rank: Int
    let modules: [Module]
    /// Targeted weights that did not change (not in the adapter).
    let unchanged: Int
    let seconds: Double
    let outputBytes: Int
    let meanEnergy: Double
    let minEnergy: Double

    init(modules: [ExtractedModule], rank: Int, seconds: Double, skipped: Int, outputBytes: Int) {
        self.rank = rank
        self.modules = modules.map { Module(name: $0.module, shape: [$0.outFeatures, $0.inFeatures], rank: $0.rank, energy: $0.energy,
                                            relativeError: $0.relativeError, seconds: $0.seconds) }
        unchanged = skipped
        self.seconds = seconds
        self.outputBytes = outputBytes
        meanEnergy = modules.isEmpty ? 1 : modules.reduce(0) { $0 + $1.energy } / Double(modules.count)
        minEnergy = modules.map(\.energy).min() ?? 1
    }

    func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    var text: String {
        var lines = ["extracted \(modules.count) modules at rank \(rank) in \(String(format: "%.2f", seconds)) s (\(unchanged) targeted weights unchanged); energy mean \(String(format: "%.4f", meanEnergy)), min \(String(format: "%.4f", minEnergy))"]
        for m in modules {
            lines.append("  \(m.name) \(m.shape[0])×\(m.shape[1]): rank \(m.rank), energy \(String(format: "%.4f", m.energy)), relative error \(String(format: "%.4f", m.relativeError))")
        }
        return lines.joined(separator: "\n")
    }
}
