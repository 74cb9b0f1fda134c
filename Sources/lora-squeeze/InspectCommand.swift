import ArgumentParser
import AdapterFormats
import Foundation
import SqueezeEngine

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show an adapter's modules, shapes, ranks, dtypes, scales and the energy kept at each rank.")

    @Argument(help: "A PEFT adapter directory (or its adapter_model.safetensors), or a kohya .safetensors file.")
    var source: String

    @Flag(help: "Print JSON instead of tables.")
    var json = false

    @Option(help: "Modules inspected at once (default: the number of cores).")
    var threads: Int?

    func run() throws {
        let adapter = try LoRAAdapter.load(at: URL(fileURLWithPath: source))
        let inspector = AdapterInspector(workers: threads ?? AdapterInspector().workers)
        let inspection = AdapterInspection(adapter: adapter, spectra: try inspector.spectra(of: adapter))
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(inspection), as: UTF8.self))
        } else {
            print(InspectionTable.render(inspection))
        }
    }
}

/// Plain-text tables for `inspect`.
enum InspectionTable {
    static func render(_ i: AdapterInspection) -> String {
        var lines: [String] = []
        let dtypes = Set(i.modules.map(\.dtype)).sorted().joined(separator: ", ")
        lines.append("format: \(i.format)  base model: \(i.baseModel ?? "—")  modules: \(i.modules.count)  weights: \(ByteFormat.string(i.bytes)) (\(dtypes))")
        lines.append("")
        let nameWidth = min(max(i.modules.map(\.name.count).max() ?? 6, 6), 72)
        let maxRanks = i.modules.max { $0.ranks.count < $1.ranks.count }?.ranks ?? []
        var header = pad("module", nameWidth) + "  " + pad("kind", 9) + pad("out×in", 13) + pad("r", 5)
            + pad("dtype", 6) + pad("scale", 9)
        header += maxRanks.map { pad("E@\($0)", 7) }.joined()
        lines.append(header)
        for m in i.modules {
            var row = pad(m.name, nameWidth) + "  " + pad(m.kind.rawValue, 9) + pad("\(m.outFeatures)×\(m.inFeatures)", 13)
                + pad("\(m.rank)", 5) + pad(m.dtype, 6) + pad(String(format: "%.4g", m.scale), 9)
            row += m.energy.map { pad(String(format: "%.4f", $0), 7) }.joined()
            lines.append(row)
        }
        lines.append("")
        lines.append(pad("deploy rank", 12) + pad("size", 12) + pad("mean energy", 13) + "min energy")
        for c in i.candidates {
            let mark = VLLM.maxLoRARanks.contains(c.rank) ? "" : "  (not a vLLM max_lora_rank)"
            lines.append(pad("\(c.rank)", 12) + pad(ByteFormat.string(c.bytes), 12)
                         + pad(String(format: "%.4f", c.meanEnergy), 13) + String(format: "%.4f", c.minEnergy) + mark)
        }
        return lines.joined(separator: "\n")
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? String(s.prefix(width - 1)) + " " : s + String(repeating: " ", count: width - s.count)
    }
}
