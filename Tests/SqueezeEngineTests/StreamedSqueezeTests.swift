import AdapterFormats
import Foundation
import Locking
import Testing
@testable import SqueezeEngine
import TestSupport

/// The streamed squeeze writes, byte for byte, the file the in-memory squeeze encodes, while holding
/// only a window of modules; it stops when asked to.
@Suite("streamed squeeze: the same bytes, bounded memory, cancellable")
struct StreamedSqueezeTests {
    static let modules: [AdapterFixture.Module] = [
        .init("model.layers.0.self_attn.q_proj", out: 24, in: 16, rank: 6),
        .init("model.layers.0.self_attn.k_proj", out: 8, in: 16, rank: 6),
        .init("model.layers.0.mlp.down_proj", out: 16, in: 40, rank: 6),
        .init("model.layers.1.self_attn.q_proj", out: 24, in: 16, rank: 6),
        .init("model.embed_tokens", out: 16, in: 50, rank: 6, embedding: true),
    ]

    /// Collects the streamed bytes (the sink is called from worker threads, one at a time).
    final class Collector: Sendable {
        let bytes = Locked<[UInt8]>([])
        let calls = Locked(0)
        func sink(_ b: UnsafeRawBufferPointer) { bytes.withLock { $0 += b }; calls.withLock { $0 += 1 } }
    }

    static func peft(dtype: DType) throws -> LoRAAdapter {
        let dir = AdapterFixture.temporaryDirectory("stream")
        defer { try? FileManager.default.removeItem(at: dir) }
        // A lora_B bias (its scale must be folded in) and a modules_to_save tensor passed through.
        let bias = try TensorToWrite.floats((0..<24).map { Float($0) / 10 }, name: "base_model.model.model.layers.0.self_attn.q_proj.lora_B.bias",
                                            shape: [24], dtype: dtype)
        let saved = try TensorToWrite.floats((0..<12).map { Float($0) }, name: "base_model.model.lm_head.modules_to_save.default.weight",
                                             shape: [3, 4], dtype: dtype)
        try AdapterFixture.makePEFT(at: dir, modules: modules, rank: 6, alpha: 12, rankPattern: ["k_proj": 6], dtype: dtype,
                                    extraTensors: [bias, saved])
        // Read into memory so the directory can go.
        let config = try PEFTConfig(json: Data(contentsOf: dir.appendingPathComponent(PEFTFiles.config)))
        let weights = try SafetensorsFile(bytes: Array(Data(contentsOf: dir.appendingPathComponent(PEFTFiles.weights))))
        return try LoRAAdapter.peft(config: config, weights: weights)
    }

    static func kohya() throws -> LoRAAdapter {
        let file = AdapterFixture.temporaryDirectory("stream-kohya").appendingPathComponent("k.safetensors")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try AdapterFixture.makeKohya(at: file, rank: 6, alpha: 3)
        return try LoRAAdapter.kohya(weights: try SafetensorsFile(bytes: Array(Data(contentsOf: file))))
    }

    @Test("streamed bytes equal the in-memory output's, for every dtype and deployment rank",
          arguments: [(DType.f32, 4, DType?.none), (.bf16, 8, .f16), (.f16, 3, .bf16), (.f32, 6, .f32)])
    func sameBytesPEFT(_ input: DType, _ rank: Int, _ output: DType?) throws {
        let adapter = try Self.peft(dtype: input)
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(method: .exact, policy: .fixed(rank)),
                                       deploymentRank: rank, dtype: output, workers: 2)
        let expected = try squeezer.squeeze(adapter)
        let collector = Collector()
        let streamed = try squeezer.squeeze(adapter, into: collector.sink)
        #expect(collector.bytes.withLock { $0 } == (try expected.output.weightsBytes()))
        #expect(streamed.plan.weightsBytes == collector.bytes.withLock { $0.count })
        #expect(streamed.plan.configJSON == expected.output.configJSON)
        #expect(streamed.reports.map(\.name) == expected.reports.map(\.name))
        #expect(streamed.reports.map(\.retainedEnergy) == expected.reports.map(\.retainedEnergy))
    }

    @Test("kohya: the same bytes, alphas replaced, metadata updated")
    func sameBytesKohya() throws {
        let adapter = try Self.kohya()
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(method: .exact, policy: .fixed(4)), deploymentRank: 4, workers: 3)
        let collector = Collector()
        let streamed = try squeezer.squeeze(adapter, into: collector.sink)
        #expect(collector.bytes.withLock { $0 } == (try squeezer.squeeze(adapter).output.weightsBytes()))
        #expect(streamed.plan.configJSON == nil)
        #expect(streamed.plan.metadata?["ss_network_dim"] == "4")
    }

    @Test("without a deployment rank the shapes are not known first: refused")
    func needsRank() throws {
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(policy: RankPolicy(.energy(0.9), maxRank: 4)), deploymentRank: nil)
        #expect(throws: AdapterSqueezeError.self) { _ = try squeezer.squeeze(try Self.peft(dtype: .f32), into: { _ in }) }
    }

    @Test("cancellation stops the squeeze with CancellationError before the next module")
    func cancellation() throws {
        let adapter = try Self.peft(dtype: .f32)
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(method: .exact, policy: .fixed(4)), deploymentRank: 4, workers: 1)
        let collector = Collector()
        // Cancelled once the header and the first module's two tensors are out.
        #expect(throws: CancellationError.self) {
            _ = try squeezer.squeeze(adapter, into: collector.sink, isCancelled: { collector.calls.withLock { $0 } >= 3 })
        }
        #expect(collector.calls.withLock { $0 } == 3)
        #expect(throws: CancellationError.self) { _ = try squeezer.squeeze(adapter, into: { _ in }, isCancelled: { true }) }
    }

    @Test("a sink that fails stops the squeeze with its own error")
    func sinkFailure() throws {
        struct Full: Error, Equatable {}
        let adapter = try Self.peft(dtype: .f32)
        let squeezer = AdapterSqueezer(module: ModuleSqueezer(method: .exact, policy: .fixed(2)), deploymentRank: 2, workers: 2)
        let calls = Locked(0)
        #expect(throws: Full()) {
            _ = try squeezer.squeeze(adapter, into: { _ in
                let n = calls.withLock { $0 += 1; return $0 }
                if n == 4 { throw Full() }
            })
        }
    }

    @Test("the ordered map consumes in order with at most `window` results waiting", arguments: [1, 2, 3, 8])
    func orderedMap(_ window: Int) throws {
        struct Tracker: Sendable {
            var consumed: [Int] = []
            var inFlight = 0
            var maxAhead = 0
        }
        let state = Locked(Tracker())
        try OrderedParallelMap.run(count: 200, workers: 4, window: window, shouldStop: { () throws(any Error) in }, { (i: Int) throws(any Error) -> Int in
            state.withLock { s in
                s.maxAhead = max(s.maxAhead, i - s.consumed.count)
            }
            if i % 7 == 0 { usleep(200) }   // uneven work, so later indices finish first
            return i * i
        }, consume: { (i: Int, value: Int) throws(any Error) in
            #expect(value == i * i)
            state.withLock { $0.consumed.append(i) }
        })
        let final = state.withLock { $0 }
        #expect(final.consumed == Array(0..<200))
        #expect(final.maxAhead < window, "claimed \(final.maxAhead) past the next to consume with a window of \(window)")
    }
}
