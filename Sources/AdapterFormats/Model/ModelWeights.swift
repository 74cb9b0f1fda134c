import Foundation

/// A model's safetensors files opened for reading (mapped, not read): a Hugging Face model directory
/// (validated as `ModelDirectory`), or one `.safetensors` file.
public struct ModelWeights: @unchecked Sendable {
    /// Each safetensors file by its name.
    public let shards: [String: SafetensorsFile]
    /// The directory's rules checked, when it is one.
    public let directory: ModelDirectory?

    public var headers: [String: SafetensorsHeader] { shards.mapValues(\.header) }

    /// Opens `url`: a directory of a model, or a single safetensors file. Directory entries starting
    /// with `.` are skipped; subdirectories are refused as the upload refuses them.
    public static func open(_ url: URL, limits: ModelLimits = .init()) throws -> ModelWeights {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw AdapterError.missingFile(url.path)
        }
        guard isDirectory.boolValue else {
            let file = try SafetensorsFile(contentsOf: url, populate: false)
            return ModelWeights(shards: [url.lastPathComponent: file], directory: nil)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: url.path).filter { !$0.hasPrefix(".") }.sorted()
        func bytes(_ name: String, limit: Int) throws -> [UInt8]? {
            guard names.contains(name) else { return nil }
            let data = try Data(contentsOf: url.appendingPathComponent(name))
            guard data.count <= limit else { throw ModelDirectoryError.fileTooLarge(file: name, bytes: data.count, limit: limit) }
            return Array(data)
        }
        var shards: [String: SafetensorsFile] = [:]
        for name in names where name.hasSuffix(".safetensors") {
            do {
                shards[name] = try SafetensorsFile(contentsOf: url.appendingPathComponent(name), populate: false)
            } catch let e as SafetensorsError {
                throw ModelDirectoryError.safetensors(file: name, e)
            }
        }
        let directory = try ModelDirectory(files: names, config: try bytes(ModelDirectory.configName, limit: limits.maxConfigBytes),
                                           index: try bytes(ModelDirectory.indexName, limit: limits.maxIndexBytes),
                                           headers: shards.mapValues(\.header), limits: limits)
        return ModelWeights(shards: shards, directory: directory)
    }
}
