import AdapterFormats
import Foundation
import SqueezeEngine
import Store

/// An upload that passed every format and config rule of the engine: its canonical config, and the
/// description stored with it (modules, shapes, ranks, dtypes, scales, spectra, candidate ranks).
struct ValidatedUpload: Sendable {
    let format: AdapterFormat
    let canonicalConfig: Data?
    let baseModel: String?
    let moduleCount: Int
    let descriptionJSON: String

    /// Blocking: parses the weights file at `weightsPath` and the config, checks every module, and
    /// computes every module's spectrum (which also reads every value: NaN/Inf are refused here).
    init(config: [UInt8]?, weightsPath: String, workers: Int) throws {
        let weights = try SafetensorsFile(contentsOf: URL(fileURLWithPath: weightsPath))
        let adapter: LoRAAdapter
        if let config {
            let parsed = try PEFTConfig(json: Data(config))
            adapter = try LoRAAdapter.peft(config: parsed, weights: weights)
            canonicalConfig = parsed.encoded()
            format = .peft
        } else {
            do {
                adapter = try LoRAAdapter.kohya(weights: weights, fileName: PEFTFiles.weights)
            } catch AdapterError.noModules {
                throw AdapterError.notAnAdapter(path: PEFTFiles.weights,
                                                reason: "no kohya lora_down/lora_up tensors; a PEFT adapter needs its adapter_config.json in the same upload")
            }
            canonicalConfig = nil
            format = .kohya
        }
        let inspection = AdapterInspection(adapter: adapter, spectra: try AdapterInspector(workers: workers).spectra(of: adapter))
        baseModel = adapter.peftConfig?.baseModel
        moduleCount = adapter.modules.count
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        descriptionJSON = String(decoding: try encoder.encode(inspection), as: UTF8.self)
    }

    /// The adapter's identity: SHA-256 over its format and its two canonical blobs' digests.
    static func adapterDigest(format: AdapterFormat, config: SHA256Digest?, weights: SHA256Digest) throws -> SHA256Digest {
        try SHA256.hash(Array("lora-squeeze adapter v1\n\(format.rawValue)\n\(config?.hex ?? "-")\n\(weights.hex)\n".utf8))
    }
}
