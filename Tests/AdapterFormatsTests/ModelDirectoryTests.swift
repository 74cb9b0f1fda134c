import Testing
@testable import AdapterFormats

/// `ModelDirectory`: each rule broken once, naming its file or tensor, and the shapes that pass.
@Suite("ModelDirectory")
struct ModelDirectoryTests {
    static let config = Array(#"{"model_type":"gemma","architectures":["GemmaForCausalLM"]}"#.utf8)

    /// A header with F32 [2] tensors of these names.
    static func header(_ names: [String]) throws -> SafetensorsHeader {
        var members: [String] = []
        for (i, n) in names.enumerated() { members.append(SafetensorsFixture.entry(n, "F32", [2], 8 * i, 8 * i + 8)) }
        return try SafetensorsHeader.parse(SafetensorsFixture.image("{" + members.joined(separator: ",") + "}",
                                                                    data: [UInt8](repeating: 0, count: 8 * names.count)))
    }

    static func index(_ map: [String: String]) -> [UInt8] {
        let members = map.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }
        return Array(("{\"metadata\":{\"total_size\":0},\"weight_map\":{" + members.joined(separator: ",") + "}}").utf8)
    }

    static let shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]

    /// A valid two-shard directory, and the way to break it.
    static func sharded(files extra: [String] = [], map: [String: String]? = nil,
                        headers: [String: [String]]? = nil) throws -> ModelDirectory {
        let map = map ?? ["a": shards[0], "b": shards[0], "c": shards[1]]
        let h = try (headers ?? [shards[0]: ["a", "b"], shards[1]: ["c"]]).mapValues { try header($0) }
        return try ModelDirectory(files: ["config.json", ModelDirectory.indexName, "tokenizer.json"] + h.keys.sorted() + extra,
                                  config: config, index: index(map), headers: h)
    }

    static func error(_ body: () throws -> ModelDirectory) -> ModelDirectoryError? {
        do { _ = try body(); return nil } catch let e as ModelDirectoryError { return e } catch { return nil }
    }

    @Test func shardedAndSingleDirectoriesPass() throws {
        let d = try Self.sharded()
        #expect(d.tensorCount == 3 && d.shardOfTensor["c"] == Self.shards[1] && d.isSharded)
        #expect(d.files == ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                            "model.safetensors.index.json", "tokenizer.json"])
        let single = try ModelDirectory(files: ["config.json", "model.safetensors"], config: Self.config, index: nil,
                                        headers: ["model.safetensors": try Self.header(["w"])])
        #expect(single.shardNames == ["model.safetensors"] && !single.isSharded)
        #expect(single.config["model_type"]?.stringValue == "gemma")
    }

    @Test func indexAndShardsMustAgree() throws {
        let (one, two) = (Self.shards[0], Self.shards[1])
        #expect(Self.error { try Self.sharded(map: ["a": one, "b": one, "c": one]) } == .tensorInWrongShard(tensor: "c", index: one, actual: two))
        #expect(Self.error { try Self.sharded(map: ["a": one, "b": one]) } == .tensorNotInIndex(tensor: "c", shard: two))
        #expect(Self.error { try Self.sharded(map: ["a": one, "b": one, "c": one], headers: [one: ["a", "b", "c"], two: []]) } == .shardNotInIndex(two))
        #expect(Self.error { try Self.sharded(map: ["a": one, "b": one, "c": two, "d": two]) } == .indexedTensorMissing(tensor: "d", shard: two))
        #expect(Self.error { try Self.sharded(map: ["a": one, "b": one, "c": two, "z": "model-3.safetensors"]) }
                == .indexNamesMissingShard(shard: "model-3.safetensors", tensor: "z"))
        #expect(Self.error { try Self.sharded(map: ["a": one, "c": two]) } == .tensorNotInIndex(tensor: "b", shard: one))
        #expect(Self.error { try Self.sharded(headers: [one: ["a", "b"], two: ["c", "a"]]) } == .tensorInTwoShards(tensor: "a", first: one, second: two))
    }

    @Test func weightsMustBeSafetensorsAndUnambiguous() throws {
        let h = try Self.header(["w"])
        #expect(Self.error { try ModelDirectory(files: ["config.json"], config: Self.config, index: nil, headers: [:]) } == .noWeights)
        #expect(Self.error { try ModelDirectory(files: ["config.json", "a.safetensors", "model.safetensors"], config: Self.config, index: nil,
                                                 headers: ["a.safetensors": h, "model.safetensors": h]) }
                == .ambiguousWeights(["a.safetensors", "model.safetensors"]))
        #expect(Self.error { try ModelDirectory(files: ["config.json", "model.safetensors", "pytorch_model.bin"], config: Self.config,
                                                 index: nil, headers: ["model.safetensors": h]) } == .pickleFile("pytorch_model.bin"))
        #expect(Self.error { try ModelDirectory(files: ["model.safetensors"], config: nil, index: nil, headers: ["model.safetensors": h]) } == .missingConfig)
    }

    @Test func jsonFilesAreParsedStrictly() throws {
        let h = ["model.safetensors": try Self.header(["w"])]
        let files = ["config.json", "model.safetensors"]
        if case .invalidJSON(file: "config.json", .duplicateKey) = Self.error({ try ModelDirectory(files: files, config: Array(#"{"a":1,"a":2}"#.utf8), index: nil, headers: h) }) {} else {
            Issue.record("a config with a key twice is refused")
        }
        #expect(Self.error { try ModelDirectory(files: files, config: Array("[1]".utf8), index: nil, headers: h) } == .notAnObject(file: "config.json"))
        #expect(Self.error { try ModelDirectory(files: files + [ModelDirectory.indexName], config: Self.config,
                                                 index: Array(#"{"weight_map":[]}"#.utf8), headers: h) }
                == .invalidIndex("it has no \"weight_map\" object"))
        if case .invalidJSON(file: ModelDirectory.indexName, .duplicateKey) = Self.error({
            try ModelDirectory(files: files + [ModelDirectory.indexName], config: Self.config,
                               index: Array(#"{"weight_map":{"w":"model.safetensors","w":"model.safetensors"}}"#.utf8), headers: h)
        }) {} else { Issue.record("an index listing a tensor twice is refused") }
    }

    @Test func limitsHoldAtTheirBoundAndOnePast() throws {
        var limits = ModelLimits()
        limits.maxFiles = 3
        limits.maxConfigBytes = Self.config.count
        let h = ["model.safetensors": try Self.header(["w"])]
        _ = try ModelDirectory(files: ["config.json", "model.safetensors", "t.json"], config: Self.config, index: nil, headers: h, limits: limits)
        #expect(Self.error { try ModelDirectory(files: ["config.json", "model.safetensors", "t.json", "u.json"], config: Self.config,
                                                 index: nil, headers: h, limits: limits) } == .tooManyFiles(count: 4, limit: 3))
        limits.maxConfigBytes -= 1
        #expect(Self.error { try ModelDirectory(files: ["config.json", "model.safetensors"], config: Self.config, index: nil, headers: h, limits: limits) }
                == .fileTooLarge(file: "config.json", bytes: Self.config.count, limit: Self.config.count - 1))
        limits = ModelLimits()
        limits.maxFileNameBytes = 10
        #expect((try? ModelDirectory.validateFileName(String(repeating: "a", count: 10), limits: limits)) != nil)
        #expect(throws: ModelDirectoryError.self) { try ModelDirectory.validateFileName(String(repeating: "a", count: 11), limits: limits) }
    }

    @Test(arguments: ["", ".hidden", "..", "dir/config.json", "a b", "tok\u{202E}.json", "x\0y"])
    func fileNamesArePlain(name: String) {
        #expect(throws: ModelDirectoryError.self) { try ModelDirectory.validateFileName(name) }
    }

    @Test func duplicateFilesAreRefused() throws {
        #expect(Self.error { try Self.sharded(files: ["tokenizer.json"]) } == .duplicateFile("tokenizer.json"))
    }
}
