import AdapterFormats
import Foundation

/// Per-module spectra of a whole adapter, computed concurrently like a squeeze.
public struct AdapterInspector: Sendable {
    public var workers: Int

    public init(workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.workers = max(1, workers)
    }

    /// The singular values of every module's update, in `adapter.modules` order.
    public func spectra(of adapter: LoRAAdapter) throws(AdapterSqueezeError) -> [[Double]] {
        if workers > 1 { BLASThreading.setThreads(1) }
        let modules = adapter.modules
        return try ParallelMap.run(count: modules.count, workers: workers,
                                   cost: { Double(modules[$0].parameterCount * modules[$0].rank) }) {
            (i: Int) throws(AdapterSqueezeError) -> [Double] in
            let m = modules[i]
            do throws(SqueezeError) {
                let u = try AdapterSqueezer.update(of: m, in: adapter)
                return try Spectrum.singularValues(of: u)
            } catch {
                throw AdapterSqueezeError(error, module: m)
            }
        }
    }

    /// Candidate deployment ranks: 1, 2, 4, … up to `maxRank`, and `maxRank` itself.
    public static func candidateRanks(upTo maxRank: Int) -> [Int] {
        var ranks: [Int] = []
        var k = 1
        while k < maxRank { ranks.append(k); k *= 2 }
        ranks.append(max(1, maxRank))
        return ranks
    }
}
