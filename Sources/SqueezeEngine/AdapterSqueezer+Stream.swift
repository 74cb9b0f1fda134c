import AdapterFormats
import Foundation
import Locking

extension AdapterSqueezer {
    /// What a streamed squeeze wrote and did.
    public struct StreamedResult: Sendable {
        public let plan: OutputPlan
        /// In `adapter.modules` order.
        public let reports: [ModuleReport]
    }

    /// Modules computed ahead of the one being written, per worker: enough to keep every worker busy
    /// while a large module is written, small enough that memory stays a few modules' outputs.
    public static let streamWindowPerWorker = 4

    /// Squeezes `adapter` at the deployment rank and writes the weights file to `sink` as it is
    /// computed — the header first (every shape is known from the plan), then each module's tensors in
    /// order, then the passed-through tensors straight from the source mapping — so memory stays
    /// bounded by a few modules whatever the output's size. The bytes are those `squeeze(_:)`'s
    /// output encodes to. `isCancelled` is polled before each module; when it answers true the squeeze
    /// stops with `CancellationError`. Errors from `sink` are rethrown as they are.
    public func squeeze(_ adapter: LoRAAdapter, into sink: @Sendable (UnsafeRawBufferPointer) throws -> Void,
                        isCancelled: @Sendable () -> Bool = { false }) throws -> StreamedResult {
        try validate()
        guard let rank = deploymentRank else {
            throw AdapterSqueezeError.invalidOptions("a streamed squeeze needs a deployment rank (every shape must be known first)")
        }
        if isCancelled() { throw CancellationError() }
        let plan: OutputPlan
        do throws(AdapterError) { plan = try adapter.outputPlan(rank: rank, dtype: dtype) } catch { throw AdapterSqueezeError.adapter(error) }
        try plan.header.withUnsafeBytes { try sink($0) }

        if workers > 1 { BLASThreading.setThreads(1) }
        let modules = adapter.modules
        let reports = Locked<[ModuleReport?]>(Array(repeating: nil, count: modules.count))
        let squeezer = module
        let dtype = self.dtype
        try OrderedParallelMap.run(
            count: modules.count, workers: workers, window: workers * Self.streamWindowPerWorker,
            shouldStop: { () throws(any Error) in if isCancelled() { throw CancellationError() } },
            { (i: Int) throws(any Error) -> (tensors: [TensorToWrite], report: ModuleReport) in
                let m = modules[i]
                let r: SqueezedModule
                do throws(SqueezeError) {
                    r = try squeezer.squeeze(try Self.update(of: m, in: adapter), name: m.name)
                } catch {
                    throw AdapterSqueezeError(error, module: m)
                }
                let tensors: [TensorToWrite]
                do throws(AdapterError) { tensors = try adapter.encode(Self.padded(r, to: rank), for: m, dtype: dtype) } catch {
                    throw AdapterSqueezeError.adapter(error)
                }
                // The plan's header promised these names, dtypes and shapes: anything else would make
                // the file lie about its own layout.
                guard tensors.map({ SafetensorsWriter.TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape) }) == plan.moduleTensors[i] else {
                    throw AdapterSqueezeError.adapter(.shapeMismatch(tensor: m.name, detail: "encoded tensors differ from the output plan"))
                }
                return (tensors, ModuleReport(module: m, result: r, writtenRank: rank))
            },
            consume: { (i: Int, outcome: (tensors: [TensorToWrite], report: ModuleReport)) throws(any Error) in
                for t in outcome.tensors { try t.bytes.withUnsafeBytes { try sink($0) } }
                reports.withLock { $0[i] = outcome.report }
            })

        for p in plan.passthrough {
            if isCancelled() { throw CancellationError() }
            switch p.source {
            case let .mapped(entry): try sink(adapter.weights.rawBytes(of: entry))
            case let .bytes(bytes): try bytes.withUnsafeBytes { try sink($0) }
            }
        }
        return StreamedResult(plan: plan, reports: reports.withLock { $0.compactMap { $0 } })
    }
}
