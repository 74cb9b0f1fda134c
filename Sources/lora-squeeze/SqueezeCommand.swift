import ArgumentParser
import AdapterFormats
import Foundation
import Logging
import SqueezeEngine

struct SqueezeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "squeeze",
        abstract: "Squeeze an adapter to one deployment rank and write it in its own format.")

    @Argument(help: "A PEFT adapter directory (or its adapter_model.safetensors), or a kohya .safetensors file.")
    var source: String

    @Option(help: "The deployment rank R: every module is written at exactly R (lower ones zero-padded).")
    var rank: Int?

    @Option(help: "The output directory (created atomically; must not exist or be empty unless --force).")
    var out: String

    @Option(help: "Output dtype (default: as the input).")
    var dtype: OutputDType?

    @Flag(name: .customLong("no-pad"), help: "Write each module at its own rank (PEFT rank_pattern/alpha_pattern; vLLM ignores patterns).")
    var noPad = false

    @Option(help: "Also write the projections T_A (t×r), T_B (r×t) of every module to this .safetensors file (exact method).")
    var projections: String?

    @Flag(help: "Replace a non-empty --out directory.")
    var force = false

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @OptionGroup var options: SqueezeOptions

    func validate() throws {
        if let r = rank, !(1...AdapterSqueezer.maxDeploymentRank).contains(r) {
            throw ValidationError("--rank must be between 1 and \(AdapterSqueezer.maxDeploymentRank)")
        }
        if !noPad && rank == nil { throw ValidationError("--rank R is required (or --no-pad with --energy/--ratio)") }
    }

    func run() throws {
        let logger = Logger(label: "lora-squeeze.squeeze")
        let squeezer = try options.squeezer(rank: rank, pad: !noPad, dtype: dtype?.dtype, projections: projections != nil)
        let srcURL = URL(fileURLWithPath: source)
        let adapter = try LoRAAdapter.load(at: srcURL)
        logger.debug("loaded \(adapter.modules.count) modules from \(source)")
        if let r = rank, !noPad, !VLLM.maxLoRARanks.contains(r) {
            FileHandle.standardError.write(Data("warning: vLLM's max_lora_rank must be one of \(VLLM.maxLoRARanks.map(String.init).joined(separator: ", ")); rank \(r) will need the next one up\n".utf8))
        }
        let bar = ProgressBar(label: "squeezing", enabled: !json && isatty(STDERR_FILENO) == 1)
        let clock = ContinuousClock()
        var result: AdapterSqueezer.Result?
        let elapsed = try clock.measure {
            result = try squeezer.squeeze(adapter, progress: { bar.update($0, $1) })
        }
        let r = result!
        let kohyaName = srcURL.pathExtension == "safetensors" ? srcURL.lastPathComponent : "lora.safetensors"
        let output = r.output.with(kohyaFileName: kohyaName)
        let outURL = URL(fileURLWithPath: out)
        try AtomicDirectory.write(to: outURL, replace: force) { dir in try output.writeFiles(into: dir) }
        if let p = projections {
            try ProjectionsFile.write(r.projections, to: URL(fileURLWithPath: p))
        }
        let summary = SqueezeSummary(reports: r.reports, seconds: elapsed.seconds, deploymentRank: noPad ? nil : rank,
                                     outputBytes: output.tensors.reduce(0) { $0 + $1.bytes.count },
                                     format: adapter.format.name)
        print(json ? try summary.json() : summary.text)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// vLLM's accepted `max_lora_rank` values (vllm/config/lora.py, `MaxLoRARanks`, 2025–2026 releases;
/// older releases accept 8…256 only). An adapter's `r` must not exceed the server's max_lora_rank.
enum VLLM {
    static let maxLoRARanks = [1, 8, 16, 32, 64, 128, 256, 320, 512]
}
