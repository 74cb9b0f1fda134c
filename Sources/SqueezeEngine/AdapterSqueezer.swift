import AdapterFormats
import Foundation
import Locking

/// Squeezes every module of an adapter, concurrently, and assembles the output adapter.
public struct AdapterSqueezer: Sendable {
    public var module: ModuleSqueezer
    /// Every module written at exactly this rank, lower ones zero-padded (what vLLM loads);
    /// nil writes each module at its own rank with PEFT rank/alpha patterns.
    public var deploymentRank: Int?
    /// Output dtype; nil keeps each module's input dtype.
    public var dtype: DType?
    /// Modules squeezed at once; BLAS runs one thread per module, so this is the core count.
    public var workers: Int

    /// The largest deployment rank accepted (well past vLLM's largest `max_lora_rank`).
    public static let maxDeploymentRank = 4096

    public init(module: ModuleSqueezer, deploymentRank: Int?, dtype: DType? = nil,
                workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        var module = module
        // Padding to R needs every module at most R: an energy/ratio rule without its own cap gets R.
        if let r = deploymentRank, module.policy.maxRank == nil, module.policy.rule != .fixed(r) {
            if case .fixed = module.policy.rule {} else { module.policy.maxRank = r }
        }
        self.module = module
        self.deploymentRank = deploymentRank
        self.dtype = dtype
        self.workers = max(1, workers)
    }

    /// Checks the options before any module is read.
    public func validate() throws(AdapterSqueezeError) {
        do throws(SqueezeError) { try module.validate() } catch { throw .invalidOptions(error.description) }
        if let r = deploymentRank {
            guard (1...Self.maxDeploymentRank).contains(r) else {
                throw .invalidOptions("deployment rank \(r) must be between 1 and \(Self.maxDeploymentRank)")
            }
            if let m = module.policy.maxRank, m > r {
                throw .invalidOptions("max rank \(m) exceeds the deployment rank \(r); modules could not be padded to it")
            }
            if case let .fixed(t) = module.policy.rule, t > r {
                throw .invalidOptions("target rank \(t) exceeds the deployment rank \(r)")
            }
        }
        if let d = dtype, !d.isFloatWritable {
            throw .invalidOptions("output dtype \(d.rawValue) is not one of F32, F16, BF16")
        }
    }

    /// The result of squeezing a whole adapter.
    public struct Result: Sendable {
        public let output: OutputAdapter
        public let reports: [ModuleReport]
        /// `T_A`/`T_B` per module name, when the module squeezer was asked for them.
        public let projections: [String: SqueezedModule.Projections]
    }

    /// One module's outcome on its worker: the encoded tensors, the report, the projections.
    private struct Outcome: Sendable {
        let tensors: [TensorToWrite]
        let report: ModuleReport
        let projections: SqueezedModule.Projections?
    }

    /// Squeezes `adapter`. `progress(done, total)` is called after each module, from worker threads.
    /// Each worker decodes, squeezes, pads and encodes its module, so only the assembly is serial.
    public func squeeze(_ adapter: LoRAAdapter,
                        progress: (@Sendable (Int, Int) -> Void)? = nil) throws(AdapterSqueezeError) -> Result {
        try validate()
        if workers > 1 { BLASThreading.setThreads(1) }
        let modules = adapter.modules
        let counter = ProgressCounter(total: modules.count, report: progress)
        let (squeezer, deploymentRank, dtype) = (module, deploymentRank, dtype)
        let outcomes = try ParallelMap.run(count: modules.count, workers: workers,
                                           cost: { Double(modules[$0].parameterCount * modules[$0].rank) }) {
            (i: Int) throws(AdapterSqueezeError) -> Outcome in
            let m = modules[i]
            let r: SqueezedModule
            do throws(SqueezeError) {
                let update = try Self.update(of: m, in: adapter)
                r = try squeezer.squeeze(update, name: m.name)
            } catch {
                throw AdapterSqueezeError(error, module: m)
            }
            let written = deploymentRank ?? r.rank
            let tensors: [TensorToWrite]
            do throws(AdapterError) { tensors = try adapter.encode(Self.padded(r, to: written), for: m, dtype: dtype) } catch {
                throw .adapter(error)
            }
            counter.tick()
            return Outcome(tensors: tensors, report: ModuleReport(module: m, result: r, writtenRank: written),
                           projections: r.projections)
        }
        var projections: [String: SqueezedModule.Projections] = [:]
        for (m, o) in zip(modules, outcomes) { if let p = o.projections { projections[m.name] = p } }
        do throws(AdapterError) {
            let out = try adapter.assemble(outcomes.map(\.tensors), ranks: outcomes.map(\.report.writtenRank),
                                           uniformRank: deploymentRank)
            return Result(output: out, reports: outcomes.map(\.report), projections: projections)
        } catch {
            throw .adapter(error)
        }
    }

    /// Squeezes in-memory updates (no file): the benchmark's and the tests' entry point.
    public func squeeze(updates: [(name: String, update: LowRankUpdate)]) throws(AdapterSqueezeError) -> [SqueezedModule] {
        try validate()
        if workers > 1 { BLASThreading.setThreads(1) }
        let squeezer = module
        return try ParallelMap.run(count: updates.count, workers: workers, cost: {
            let u = updates[$0].update
            return Double((u.inFeatures + u.outFeatures) * u.rank * u.rank)
        }) { (i: Int) throws(AdapterSqueezeError) -> SqueezedModule in
            do throws(SqueezeError) { return try squeezer.squeeze(updates[i].update, name: updates[i].name) } catch {
                throw .module(name: updates[i].name, error)
            }
        }
    }

    /// The module's factors zero-padded to `rank` directions: A' gains zero rows, B' zero columns.
    static func padded(_ r: SqueezedModule, to rank: Int) -> ReplacementFactors {
        let t = r.rank
        precondition(rank >= t, "padding cannot shrink a module")
        if rank == t { return ReplacementFactors(a: r.a.storage, b: r.b.storage, rank: t) }
        var a = r.a.storage
        a += [Float](repeating: 0, count: (rank - t) * r.a.columns)
        var b = [Float](repeating: 0, count: r.b.rows * rank)
        for i in 0..<r.b.rows {
            for j in 0..<t { b[i * rank + j] = r.b.storage[i * t + j] }
        }
        return ReplacementFactors(a: a, b: b, rank: rank)
    }

    /// The module's update over its mapped tensors (decoded panel by panel during the squeeze).
    static func update(of m: LoRAModule, in adapter: LoRAAdapter) throws(SqueezeError) -> LowRankUpdate {
        try LowRankUpdate(aSource: TensorMatrix(file: adapter.weights, entry: m.aTensor, rows: m.rank, columns: m.inFeatures),
                          bSource: TensorMatrix(file: adapter.weights, entry: m.bTensor, rows: m.outFeatures, columns: m.rank),
                          scale: m.scale)
    }
}

/// Counts finished modules across worker threads and reports each step.
final class ProgressCounter: Sendable {
    private let done = Locked(0)
    private let total: Int
    private let report: (@Sendable (Int, Int) -> Void)?

    init(total: Int, report: (@Sendable (Int, Int) -> Void)?) {
        self.total = total
        self.report = report
    }

    func tick() {
        let now = done.withLock { count in
            count += 1
            return count
        }
        report?(now, total)
    }
}
