import AdapterFormats
import Foundation
import Store

/// A model directory upload that passed `ModelDirectory`'s rules, read from its temporary files:
/// its identity and the description stored with it.
struct ValidatedBase: Sendable {
    let directory: ModelDirectory
    let descriptionJSON: String

    /// What a stored base says about itself in `GET /v1/bases/{ref}`.
    struct Description: Codable, Sendable {
        let modelType: String?
        let architectures: [String]
        let torchDtype: String?
        let shards: [String]
        let tensors: Int
        /// Tensors per safetensors dtype.
        let dtypes: [String: Int]
        /// Elements in all tensors.
        let parameters: Int
        /// The largest shard's size in bytes (a merge's memory and disk scale with it).
        let largestShardBytes: Int
    }

    /// Blocking: reads `config.json` and the index (bounded by `limits`), parses every safetensors
    /// file's header (its pages are not read), and applies the directory's rules.
    init(files: [(name: String, path: String, size: Int64)], limits: ModelLimits) throws {
        func read(_ name: String, limit: Int) throws -> [UInt8]? {
            guard let f = files.first(where: { $0.name == name }) else { return nil }
            guard f.size <= Int64(limit) else { throw ModelDirectoryError.fileTooLarge(file: name, bytes: Int(f.size), limit: limit) }
            return Array(try Data(contentsOf: URL(fileURLWithPath: f.path)))
        }
        let config = try read(ModelDirectory.configName, limit: limits.maxConfigBytes)
        let index = try read(ModelDirectory.indexName, limit: limits.maxIndexBytes)
        var headers: [String: SafetensorsHeader] = [:]
        var largest = 0
        for f in files where f.name.hasSuffix(".safetensors") {
            do {
                headers[f.name] = try SafetensorsFile(contentsOf: URL(fileURLWithPath: f.path), populate: false).header
            } catch let e as SafetensorsError {
                throw ModelDirectoryError.safetensors(file: f.name, e)
            }
            largest = max(largest, Int(f.size))
        }
        let directory = try ModelDirectory(files: files.map(\.name), config: config, index: index, headers: headers, limits: limits)
        self.directory = directory
        var dtypes: [String: Int] = [:]
        var parameters = 0
        for header in headers.values {
            for t in header.tensors {
                dtypes[t.dtype.rawValue, default: 0] += 1
                parameters = parameters.addingReportingOverflow(t.elementCount).overflow ? Int.max : parameters + t.elementCount
            }
        }
        let c = directory.config
        let description = Description(
            modelType: c["model_type"]?.stringValue,
            architectures: c["architectures"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            torchDtype: (c["torch_dtype"] ?? c["dtype"])?.stringValue,
            shards: directory.shardNames, tensors: directory.tensorCount, dtypes: dtypes, parameters: parameters,
            largestShardBytes: largest)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        descriptionJSON = String(decoding: try encoder.encode(description), as: UTF8.self)
    }

    /// A base's identity: the SHA-256 of its manifest, one `path sha256` line per file in path order
    /// after a version line, so the same files give the same digest on every server.
    static func digest(files: [String: SHA256Digest]) throws -> SHA256Digest {
        let manifest = "lora-squeeze base v1\n" + files.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.hex)\n" }.joined()
        return try SHA256.hash(Data(manifest.utf8))
    }
}
