import ArgumentParser
import AdapterFormats
import Foundation
import SqueezeEngine

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Write a small PaliGemma-shaped demo adapter (mixed ranks 32/16) and squeeze it to one rank.")

    @Option(help: "Where the demo adapter and its squeezed form go.")
    var data = "./data"

    @Option(help: "The deployment rank.")
    var rank = 8

    func run() throws {
        let root = URL(fileURLWithPath: data).appendingPathComponent("demo")
        let source = root.appendingPathComponent("source")
        let demo = SyntheticAdapter.demo()
        try AtomicDirectory.write(to: source, replace: true) { dir in try demo.write(to: dir, dtype: .bf16) }
        print("wrote a demo adapter to \(source.path)\n")
        let adapter = try LoRAAdapter.load(at: source)
        let inspection = AdapterInspection(adapter: adapter, spectra: try AdapterInspector().spectra(of: adapter))
        print(InspectionTable.render(inspection))
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(policy: .fixed(rank)), deploymentRank: rank)
        let clock = ContinuousClock()
        var result: AdapterSqueezer.Result?
        let elapsed = try clock.measure { result = try squeezer.squeeze(adapter) }
        let out = root.appendingPathComponent("rank-\(rank)")
        try AtomicDirectory.write(to: out, replace: true) { dir in try result!.output.writeFiles(into: dir) }
        let summary = SqueezeSummary(reports: result!.reports, seconds: elapsed.seconds, deploymentRank: rank,
                                     outputBytes: result!.output.tensors.reduce(0) { $0 + $1.bytes.count }, format: "peft")
        print("\n" + summary.text)
        print("wrote \(out.path) — load it with PEFT (PeftModel.from_pretrained) or vLLM (--max-lora-rank \(VLLM.maxLoRARanks.first { $0 >= rank } ?? rank))")
    }
}
