import ArgumentParser
import AdapterFormats
import Foundation
import SqueezeEngine

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Squeeze a Gemma-2B-shaped adapter built in memory; print median time and peak memory.",
        discussion: "Build with -c release. Figures are printed, never asserted; quote medians.")

    @Option(help: "Target (deployment) rank.")
    var rank = 16

    @Option(name: .customLong("source-rank"), help: "The generated adapter's rank.")
    var sourceRank = 64

    @Option(help: "Gemma-2B layers (18 in the real model).")
    var layers = 18

    @Option(help: "Timed runs per dtype (after one warm-up).")
    var runs = 5

    @Option(help: "Dtypes to bench (repeatable).")
    var dtype: [OutputDType] = [.f32, .bf16]

    @Option(name: .customLong("write-adapter"), help: "Also write the generated adapter (first dtype) here, to cross-check with other tools.")
    var writeAdapter: String?

    @OptionGroup var options: SqueezeOptions

    func run() throws {
        let synthetic = SyntheticAdapter.gemma2B(layers: layers, rank: sourceRank)
        let squeezer = try options.squeezer(rank: rank, pad: true, dtype: nil)
        print("bench: Gemma-2B-shaped adapter, \(synthetic.modules.count) modules, r = \(sourceRank) → R = \(rank), "
              + "\(squeezer.workers) workers, method \(options.method.rawValue), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        if let dir = writeAdapter, let first = dtype.first {
            try synthetic.write(to: URL(fileURLWithPath: dir), dtype: first.dtype)
            print("wrote the adapter to \(dir)")
        }
        for d in dtype {
            let adapter = try synthetic.adapter(dtype: d.dtype)
            let size = adapter.modules.reduce(0) { $0 + $1.aTensor.byteRange.count + $1.bTensor.byteRange.count }
            _ = try squeezer.squeeze(adapter)  // warm-up: page in, BLAS buffers
            var times: [Double] = []
            var peak = 0
            var last: AdapterSqueezer.Result?
            for _ in 0..<max(1, runs) {
                last = nil
                MemoryProbe.resetPeak()
                let t = try ContinuousClock().measure { last = try squeezer.squeeze(adapter) }
                times.append(t.seconds)
                peak = max(peak, MemoryProbe.peakResidentBytes())
            }
            times.sort()
            let median = times[times.count / 2]
            let worst = last!.reports.min { $0.retainedEnergy < $1.retainedEnergy }!
            print(String(format: "%@: adapter %@, median %.3f s (min %.3f, max %.3f, %d runs), peak RSS %@ = %.2f× the adapter",
                         d.rawValue, ByteFormat.string(size), median, times.first!, times.last!, times.count,
                         ByteFormat.string(peak), Double(peak) / Double(size)))
            print(String(format: "    energy kept: min %.4f (%@)", worst.retainedEnergy, worst.name))
        }
    }
}

/// Peak resident memory from /proc (Linux): `VmHWM`, which writing "5" to clear_refs resets.
enum MemoryProbe {
    static func resetPeak() {
        if let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            h.write(Data("5".utf8))
            try? h.close()
        }
    }

    static func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}
