// libFuzzer entry for ModelDirectory: an uploaded model directory's index (and which files are
// there). Fuzz/run.sh links it against the AdapterFormats module built from every file under
// Sources/AdapterFormats, and compiles Fuzz/Support/FuzzSupport.swift beside it.
//
// The input's first byte chooses the file list (bit 0: config.json, bit 1: the index, bit 2: a
// stray model.safetensors, bit 3: a pickle); the rest is model.safetensors.index.json's bytes. Two
// shards have fixed headers (a.safetensors: x, y; b.safetensors: z). Invariants besides no trap and no
// sanitizer report: a success maps every tensor of every shard to the shard that holds it and nothing
// else; a refusal is a ModelDirectoryError (typed throws) whose description is not empty.
import AdapterFormats
import Foundation

func header(_ names: [String]) -> SafetensorsHeader {
    var members: [String] = []
    for (i, n) in names.enumerated() { members.append("\"\(n)\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\(4 * i),\(4 * i + 4)]}") }
    let json = Array(("{" + members.joined(separator: ",") + "}").utf8)
    var file: [UInt8] = []
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { file += $0 }
    file += json + [UInt8](repeating: 0, count: 4 * names.count)
    return try! SafetensorsHeader.parse(file)
}

let shardHeaders = ["a.safetensors": header(["x", "y"]), "b.safetensors": header(["z"]), "model.safetensors": header(["x"])]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelDirectory(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let choice = data[0]
    let index = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var files = ["a.safetensors", "b.safetensors", "tokenizer.json"]
    if choice & 1 != 0 { files.append(ModelDirectory.configName) }
    if choice & 2 != 0 { files.append(ModelDirectory.indexName) }
    if choice & 4 != 0 { files.append("model.safetensors") }
    if choice & 8 != 0 { files.append("pytorch_model.bin") }
    let headers = shardHeaders.filter { files.contains($0.key) }
    do throws(ModelDirectoryError) {
        let directory = try ModelDirectory(files: files, config: choice & 1 != 0 ? Array("{}".utf8) : nil,
                                           index: choice & 2 != 0 ? index : nil, headers: headers)
        var expected: [String: String] = [:]
        for (shard, h) in headers { for t in h.tensors { expected[t.name] = shard } }
        fuzzCheck(directory.shardOfTensor == expected, "shardOfTensor \(directory.shardOfTensor) is not where the tensors are: \(expected)")
        fuzzCheck(directory.shardNames == headers.keys.sorted(), "shards \(directory.shardNames)")
    } catch {
        fuzzCheck(!error.description.isEmpty, "an empty error description")
    }
    return 0
}
