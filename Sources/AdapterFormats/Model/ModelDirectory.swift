/// A Hugging Face model directory, validated: `config.json`, the weights as one `model.safetensors`
/// or as shards that `model.safetensors.index.json` maps tensor by tensor, and any other files
/// (tokenizer, generation config) kept as they are.
///
/// A pure value over what the caller read: file names, the two JSON files' bytes and each
/// safetensors file's parsed header. The rules, each with the error that names its culprit:
/// - file names are plain names (no directories), unique, at most `maxFiles` of them;
/// - `config.json` is a JSON object; no pickled weights (`.bin`, `.pt`, `.pth`, `.ckpt`, `.pkl`);
/// - without an index there is exactly one safetensors file, `model.safetensors`;
/// - with one, its `weight_map` names exactly the uploaded safetensors files, every tensor of every
///   shard is in it under that shard, every tensor it lists is in the shard it names, and no tensor
///   is in two shards.
public struct ModelDirectory: Sendable, Equatable {
    public static let configName = "config.json"
    public static let weightsName = "model.safetensors"
    public static let indexName = "model.safetensors.index.json"
    /// Suffixes of Python pickles: refused, since loading one runs code.
    public static let pickleSuffixes = [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"]

    /// Every file's name, sorted.
    public let files: [String]
    /// The safetensors files, sorted, with their headers.
    public let shards: [String: SafetensorsHeader]
    /// Which shard holds each tensor.
    public let shardOfTensor: [String: String]
    /// `config.json`, parsed.
    public let config: [String: JSONValue]

    public var tensorCount: Int { shardOfTensor.count }
    public var shardNames: [String] { shards.keys.sorted() }
    public var isSharded: Bool { files.contains(Self.indexName) }

    /// Validates a directory. `config` and `index` are the bytes of `config.json` and of the index
    /// (nil when absent); `headers` has every `.safetensors` file's header.
    public init(files: [String], config: [UInt8]?, index: [UInt8]?, headers: [String: SafetensorsHeader],
                limits: ModelLimits = .init()) throws(ModelDirectoryError) {
        guard files.count <= limits.maxFiles else { throw .tooManyFiles(count: files.count, limit: limits.maxFiles) }
        var seen = Set<String>()
        for name in files {
            try Self.validateFileName(name, limits: limits)
            guard seen.insert(name).inserted else { throw .duplicateFile(name) }
            if let suffix = Self.pickleSuffixes.first(where: { name.lowercased().hasSuffix($0) }), !suffix.isEmpty {
                throw .pickleFile(name)
            }
        }
        guard seen.contains(Self.configName), let config else { throw .missingConfig }
        guard config.count <= limits.maxConfigBytes else {
            throw .fileTooLarge(file: Self.configName, bytes: config.count, limit: limits.maxConfigBytes)
        }
        self.config = try Self.object(config, file: Self.configName)

        let safetensors = files.filter { $0.hasSuffix(".safetensors") }.sorted()
        for name in safetensors where headers[name] == nil {
            throw .safetensors(file: name, .fileTooShort(byteCount: 0))   // the caller must parse every one
        }
        var shardOf: [String: String] = [:]
        if seen.contains(Self.indexName) {
            guard let index else { throw .invalidIndex("missing") }
            guard index.count <= limits.maxIndexBytes else {
                throw .fileTooLarge(file: Self.indexName, bytes: index.count, limit: limits.maxIndexBytes)
            }
            let root = try Self.object(index, file: Self.indexName)
            guard let map = root["weight_map"]?.objectValue else {
                throw .invalidIndex("it has no \"weight_map\" object")
            }
            if let metadata = root["metadata"], metadata.objectValue == nil, !metadata.isNull {
                throw .invalidIndex("\"metadata\" is not an object")
            }
            let uploaded = Set(safetensors)
            for tensor in map.keys.sorted() {
                guard let shard = map[tensor]?.stringValue else {
                    throw .invalidIndex("weight_map[\"\(tensor.prefix(200))\"] is not a file name")
                }
                guard uploaded.contains(shard) else { throw .indexNamesMissingShard(shard: shard, tensor: tensor) }
                shardOf[tensor] = shard
            }
            var found: [String: String] = [:]
            for shard in safetensors {
                for entry in headers[shard]!.tensors {
                    if let first = found[entry.name] { throw .tensorInTwoShards(tensor: entry.name, first: first, second: shard) }
                    found[entry.name] = shard
                    guard let indexed = shardOf[entry.name] else { throw .tensorNotInIndex(tensor: entry.name, shard: shard) }
                    guard indexed == shard else { throw .tensorInWrongShard(tensor: entry.name, index: indexed, actual: shard) }
                }
            }
            if let missing = shardOf.keys.sorted().first(where: { found[$0] == nil }) {
                throw .indexedTensorMissing(tensor: missing, shard: shardOf[missing]!)
            }
            let named = Set(shardOf.values)   // an empty shard the index never mentions
            if let stray = safetensors.first(where: { !named.contains($0) }) { throw .shardNotInIndex(stray) }
        } else {
            guard !safetensors.isEmpty else { throw .noWeights }
            guard safetensors == [Self.weightsName] else { throw .ambiguousWeights(safetensors) }
            for entry in headers[Self.weightsName]!.tensors { shardOf[entry.name] = Self.weightsName }
        }
        guard !shardOf.isEmpty else { throw .noWeights }
        self.files = files.sorted()
        self.shards = headers.filter { safetensors.contains($0.key) }
        shardOfTensor = shardOf
    }

    /// A plain file name: 1…`maxFileNameBytes` bytes of letters, digits, `.`, `_` and `-`, not
    /// starting with `.` (so never `.`, `..` or a hidden file), no directories.
    public static func validateFileName(_ name: String, limits: ModelLimits = .init()) throws(ModelDirectoryError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { throw .invalidFileName(name, reason: "is empty") }
        guard bytes.count <= limits.maxFileNameBytes else {
            throw .invalidFileName(name, reason: "has \(bytes.count) bytes; at most \(limits.maxFileNameBytes) are accepted")
        }
        guard bytes[0] != UInt8(ascii: ".") else { throw .invalidFileName(name, reason: "starts with a dot") }
        if let bad = bytes.first(where: { !Self.isNameByte($0) }) {
            throw .invalidFileName(name, reason: bad == UInt8(ascii: "/") ? "has a directory: model files are uploaded flat"
                                                                          : "has a character other than letters, digits, '.', '_' and '-'")
        }
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5a).contains(b) || (0x61...0x7a).contains(b)
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    private static func object(_ bytes: [UInt8], file: String) throws(ModelDirectoryError) -> [String: JSONValue] {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw .invalidJSON(file: file, error) }
        guard let object = value.objectValue else { throw .notAnObject(file: file) }
        return object
    }
}
