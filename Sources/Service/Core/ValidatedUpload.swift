import AdapterFormats
import Foundation
import HTTPServer
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

    /// Blocking: parses the weights file at `weightsPath` and the config, checks every module against
    /// `limits`, bounds the work of what follows from the shapes, and computes every module's spectrum
    /// (which also reads every value: NaN/Inf are refused here).
    init(config: [UInt8]?, weightsPath: String, workers: Int, limits: ServiceLimits) throws {
        let weights = try SafetensorsFile(contentsOf: URL(fileURLWithPath: weightsPath))
        let adapter: LoRAAdapter
        if let config {
            let parsed = try PEFTConfig(json: Data(config), limits: limits.adapter)
            adapter = try LoRAAdapter.peft(config: parsed, weights: weights, limits: limits.adapter)
            canonicalConfig = parsed.encoded()
            format = .peft
        } else {
            adapter = try Self.kohya(weights, limits: limits.adapter)
            canonicalConfig = nil
            format = .kohya
        }
        // The spectra cost O((out + in)·r² + r³) per module whatever the file's size: bounded by the
        // upload's size before any of it is paid.
        let work = adapter.modules.reduce(0.0) { $0 + CostModel.spectra(out: $1.outFeatures, in: $1.inFeatures, rank: $1.rank) }
        let fileBytes = weights.header.dataOffset + (weights.tensors.last?.byteRange.upperBound ?? 0)
        let allowed = limits.validationWork(weightsBytes: fileBytes)
        guard work <= allowed else {
            throw HTTPError(.unprocessableContent, type: "validation-too-costly",
                            detail: "validating this adapter would take \(Self.scientific(work)) operations (\(adapter.modules.count) modules, ranks up to \(adapter.modules.map(\.rank).max() ?? 0)); an upload of \(fileBytes) bytes may take at most \(Self.scientific(allowed)) (validation work per byte \(limits.validationWorkPerByte), floor \(Self.scientific(limits.validationWorkFloor)))")
        }
        let inspection = AdapterInspection(adapter: adapter, spectra: try AdapterInspector(workers: workers).spectra(of: adapter))
        baseModel = adapter.peftConfig?.baseModel
        moduleCount = adapter.modules.count
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        descriptionJSON = String(decoding: try encoder.encode(inspection), as: UTF8.self)
    }

    /// A kohya file, or a clear word that a PEFT upload lacks its config.
    private static func kohya(_ weights: SafetensorsFile, limits: AdapterLimits) throws(AdapterError) -> LoRAAdapter {
        do {
            return try LoRAAdapter.kohya(weights: weights, fileName: PEFTFiles.weights, limits: limits)
        } catch {
            guard case .noModules = error else { throw error }
            throw .notAnAdapter(path: PEFTFiles.weights,
                                reason: "no kohya lora_down/lora_up tensors; a PEFT adapter needs its adapter_config.json in the same upload")
        }
    }

    static func scientific(_ x: Double) -> String { String(format: "%.3g", x) }

    /// The adapter's identity: SHA-256 over its format and its two canonical blobs' digests.
    static func adapterDigest(format: AdapterFormat, config: SHA256Digest?, weights: SHA256Digest) throws -> SHA256Digest {
        try SHA256.hash(Array("lora-squeeze adapter v1\n\(format.rawValue)\n\(config?.hex ?? "-")\n\(weights.hex)\n".utf8))
    }
}
