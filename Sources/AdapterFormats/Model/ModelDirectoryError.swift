/// Why a model directory was refused. Each case names the file or tensor at fault.
public enum ModelDirectoryError: Error, Equatable, CustomStringConvertible {
    case invalidFileName(String, reason: String)
    case duplicateFile(String)
    case tooManyFiles(count: Int, limit: Int)
    case missingConfig
    case invalidJSON(file: String, JSONParseError)
    case notAnObject(file: String)
    case fileTooLarge(file: String, bytes: Int, limit: Int)
    case pickleFile(String)
    case noWeights
    case ambiguousWeights([String])
    case invalidIndex(String)
    case shardNotInIndex(String)
    case indexNamesMissingShard(shard: String, tensor: String)
    case tensorNotInIndex(tensor: String, shard: String)
    case tensorInWrongShard(tensor: String, index: String, actual: String)
    case indexedTensorMissing(tensor: String, shard: String)
    case tensorInTwoShards(tensor: String, first: String, second: String)
    case safetensors(file: String, SafetensorsError)

    public var description: String {
        switch self {
        case let .invalidFileName(name, reason):
            "file name \(quoted(name)) \(reason)"
        case let .duplicateFile(name):
            "the directory has \(quoted(name)) twice"
        case let .tooManyFiles(count, limit):
            "the directory has \(count) files; at most \(limit) are accepted"
        case .missingConfig:
            "the directory has no config.json"
        case let .invalidJSON(file, error):
            "\(file) \(error)"
        case let .notAnObject(file):
            "\(file) is not a JSON object"
        case let .fileTooLarge(file, bytes, limit):
            "\(file) has \(bytes) bytes; at most \(limit) are accepted"
        case let .pickleFile(name):
            "\(name) is a pickle (PyTorch .bin/.pt): only safetensors weights are accepted, since loading a pickle runs code"
        case .noWeights:
            "the directory has no weights: upload model.safetensors, or shards with model.safetensors.index.json"
        case let .ambiguousWeights(files):
            "the directory has \(files.count) safetensors files (\(files.prefix(4).joined(separator: ", "))\(files.count > 4 ? ", …" : "")) and no model.safetensors.index.json saying which tensor is where"
        case let .invalidIndex(reason):
            "model.safetensors.index.json: \(reason)"
        case let .shardNotInIndex(shard):
            "\(shard) is uploaded but model.safetensors.index.json names no tensor in it"
        case let .indexNamesMissingShard(shard, tensor):
            "model.safetensors.index.json puts \(tensor) in \(shard), which is not uploaded"
        case let .tensorNotInIndex(tensor, shard):
            "tensor \(tensor) in \(shard) is not in model.safetensors.index.json"
        case let .tensorInWrongShard(tensor, index, actual):
            "model.safetensors.index.json puts \(tensor) in \(index), but it is in \(actual)"
        case let .indexedTensorMissing(tensor, shard):
            "model.safetensors.index.json puts \(tensor) in \(shard), which has no such tensor"
        case let .tensorInTwoShards(tensor, first, second):
            "tensor \(tensor) is in both \(first) and \(second)"
        case let .safetensors(file, error):
            "\(file): \(error)"
        }
    }

    private func quoted(_ text: String) -> String {
        "\"" + String(text.unicodeScalars.prefix(80).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f ? Character($0) : "?" }) + "\""
    }
}
