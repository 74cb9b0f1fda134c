import AdapterFormats
import Foundation
import Testing
import TestSupport

// The uploads BadInputTests.refusedUpload sends, one per way an upload can be wrong, with the status
// and the words its problem must carry.

/// An upload the service must refuse.
struct BadUpload: Sendable, CustomTestStringConvertible {
    let label: String
    let query: String
    let status: Int
    /// Words the problem's detail must contain (the field, tensor or file at fault).
    let mentions: [String]
    let make: @Sendable () throws -> (contentType: String, body: [UInt8])

    init(_ label: String, query: String = "", _ status: Int, mentions: [String] = [],
         _ make: @escaping @Sendable () throws -> (contentType: String, body: [UInt8])) {
        self.label = label
        self.query = query
        self.status = status
        self.mentions = mentions
        self.make = make
    }

    var testDescription: String { label }
}

/// A GET or PUT the service must refuse.
struct BadRequest: Sendable, CustomTestStringConvertible {
    let method: String
    let target: String
    let status: Int
    var body: String? = nil
    var testDescription: String { "\(method) \(target) → \(status)" }
}

extension BadInputTests {
    typealias Module = AdapterFixture.Module

    static let module = Module("model.layers.0.self_attn.q_proj", out: 12, in: 16, rank: 4)
    static let config = AdapterFixture.peftConfig(rank: 4, alpha: 8)
    static let aName = LoRAAdapter.peftPrefix + module.name + ".lora_A.weight"

    static func good() throws -> PEFTUpload { try ServiceFixtures.peft(seed: 150) }
    static func multipart(_ files: PEFTUpload) -> (contentType: String, body: [UInt8]) {
        UploadBody.peftMultipart(config: files.config, weights: files.weights)
    }
    static func octets(_ bytes: [UInt8]) -> (contentType: String, body: [UInt8]) { ("application/octet-stream", bytes) }
    /// A safetensors file whose 8-byte length prefix is `length`, followed by `header`.
    static func framed(length: UInt64, header: String) -> [UInt8] {
        withUnsafeBytes(of: length.littleEndian) { Array($0) } + Array(header.utf8)
    }
    static func withConfig(_ overrides: [String: JSONValue]) throws -> PEFTUpload {
        var fields = config
        for (k, v) in overrides { fields[k] = v }
        return try ServiceFixtures.peft(tensors: try AdapterFixture.peftFactors(module, seed: 3), config: fields)
    }

    static let uploads: [BadUpload] = [
        BadUpload("truncated weights", 422, mentions: ["truncated"]) {
            let files = try good()
            return multipart(PEFTUpload(config: files.config, weights: Array(files.weights.prefix(files.weights.count / 2))))
        },
        BadUpload("header length past the end of the file", 422, mentions: ["header length"]) { octets(framed(length: 1 << 40, header: "{}")) },
        BadUpload("header that is not JSON", 422, mentions: ["JSON"]) { octets(framed(length: 12, header: "not json at!")) },
        BadUpload("file shorter than its length prefix", 422, mentions: ["too short"]) { octets([1, 2, 3]) },
        BadUpload("empty file", 422, mentions: ["0 bytes"]) { octets([]) },
        BadUpload("config r 16 for tensors of rank 4", 422, mentions: [module.name, "16"]) {
            multipart(try withConfig(["r": .number(16)]))
        },
        BadUpload("DoRA config", 422, mentions: ["use_dora"]) { multipart(try withConfig(["use_dora": .bool(true)])) },
        BadUpload("DoRA magnitude vector", 422, mentions: ["lora_magnitude_vector"]) {
            let magnitude = try TensorToWrite.floats([Float](repeating: 1, count: 12),
                                                     name: LoRAAdapter.peftPrefix + module.name + ".lora_magnitude_vector", shape: [12], dtype: .f32)
            return multipart(try ServiceFixtures.peft(tensors: try AdapterFixture.peftFactors(module, seed: 3) + [magnitude], config: config))
        },
        BadUpload("NaN in lora_A", 422, mentions: [aName]) {
            var (a, b) = LoRAFactorsFixture.make(out: module.out, in: module.inFeatures, rank: module.rank, seed: 5)
            a[17] = .nan
            let tensors = [try TensorToWrite.floats(a, name: aName, shape: [module.rank, module.inFeatures], dtype: .f32),
                           try TensorToWrite.floats(b, name: LoRAAdapter.peftPrefix + module.name + ".lora_B.weight",
                                                    shape: [module.out, module.rank], dtype: .f32)]
            return multipart(try ServiceFixtures.peft(tensors: tensors, config: config))
        },
        BadUpload("Inf in a kohya lora_up (F16)", 422, mentions: ["lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight"]) {
            var (a, b) = LoRAFactorsFixture.make(out: 8, in: 6, rank: 2, seed: 9)
            b[3] = .infinity
            let key = "lora_te_text_model_encoder_layers_0_mlp_fc1"
            return octets(try SafetensorsWriter.encode([
                try .floats(a, name: key + ".lora_down.weight", shape: [2, 6], dtype: .f16),
                try .floats(b, name: key + ".lora_up.weight", shape: [8, 2], dtype: .f16),
                try .floats([2], name: key + ".alpha", shape: [], dtype: .f16)]))
        },
        BadUpload("lora_B whose rank is not lora_A's", 422, mentions: [LoRAAdapter.peftPrefix + module.name]) {
            let (a, _) = LoRAFactorsFixture.make(out: module.out, in: module.inFeatures, rank: module.rank, seed: 5)
            let tensors = [try TensorToWrite.floats(a, name: aName, shape: [module.rank, module.inFeatures], dtype: .f32),
                           try TensorToWrite.floats([Float](repeating: 0.01, count: module.out * 3),
                                                    name: LoRAAdapter.peftPrefix + module.name + ".lora_B.weight",
                                                    shape: [module.out, 3], dtype: .f32)]
            return multipart(try ServiceFixtures.peft(tensors: tensors, config: config))
        },
        BadUpload("integer factors", 422, mentions: [aName, "I32"]) {
            let ints = TensorToWrite(name: aName, dtype: .i32, shape: [module.rank, module.inFeatures],
                                     bytes: [UInt8](repeating: 1, count: module.rank * module.inFeatures * 4))
            return multipart(try ServiceFixtures.peft(tensors: [ints, try AdapterFixture.peftFactors(module, seed: 3)[1]], config: config))
        },
        BadUpload("peft_type LOHA", 422, mentions: ["peft_type"]) { multipart(try withConfig(["peft_type": .string("LOHA")])) },
        BadUpload("config that is a JSON array", 422, mentions: ["JSON object"]) { multipart(PEFTUpload(config: Array("[4]".utf8), weights: try good().weights)) },
        BadUpload("lora_A without its lora_B", 422, mentions: ["lora_B"]) {
            multipart(try ServiceFixtures.peft(tensors: [try AdapterFixture.peftFactors(module, seed: 3)[0]], config: config))
        },
        BadUpload("config that is not JSON", 422, mentions: ["JSON"]) {
            multipart(PEFTUpload(config: Array("{r: 4".utf8), weights: try good().weights))
        },
        BadUpload("config without r", 422, mentions: ["r"]) {
            var fields = config
            fields["r"] = nil
            return multipart(try ServiceFixtures.peft(tensors: try AdapterFixture.peftFactors(module, seed: 3), config: fields))
        },
        BadUpload("PEFT weights alone as octet-stream", 422, mentions: ["adapter_config.json"]) { octets(try good().weights) },
        BadUpload("multipart without a weights part", 400, mentions: ["adapter_model.safetensors"]) {
            UploadBody.multipart([.init(name: "adapter_config.json", contentType: "application/json", bytes: try good().config)])
        },
        BadUpload("multipart with two weights parts", 400, mentions: ["two"]) {
            let files = try good()
            return UploadBody.multipart([.init(name: "adapter_config.json", bytes: files.config),
                                         .init(name: "adapter_model.safetensors", bytes: files.weights),
                                         .init(name: "more", filename: "other.safetensors", bytes: files.weights)])
        },
        BadUpload("multipart cut off before its closing boundary", 400, mentions: ["boundary"]) {
            let (type, body) = multipart(try good())
            return (type, Array(body.dropLast(40)))
        },
        BadUpload("tar without the weights", 400, mentions: ["adapter_model.safetensors"]) {
            ("application/x-tar", try UploadBody.tar([.file("README.md", Array("hello".utf8)), .file("adapter_config.json", try good().config)]))
        },
        BadUpload("tar with a bad checksum", 400, mentions: ["checksum"]) {
            var tar = try UploadBody.peftTar(config: try good().config, weights: try good().weights)
            tar[0] ^= 0x01  // the first entry's name changes, its stored checksum does not
            return ("application/x-tar", tar)
        },
        BadUpload("tar entry climbing out with ..", 400, mentions: ["../adapter_model.safetensors"]) {
            ("application/x-tar", try UploadBody.tar([.file("../adapter_model.safetensors", try good().weights)]))
        },
        BadUpload("text/plain", 415, mentions: ["text/plain"]) { ("text/plain", try good().weights) },
        BadUpload("application/json", 415) { ("application/json", try good().config) },
        BadUpload("multipart/mixed", 415) { ("multipart/mixed; boundary=x", try good().weights) },
        // multipart/form-data is accepted; without its boundary (RFC 7578 §4.1, RFC 2046 §5.1.1) the body
        // cannot be read: a 400 for a malformed request, not a 415 that names the very type sent as the fix.
        BadUpload("multipart/form-data without a boundary", 400, mentions: ["boundary"]) {
            ("multipart/form-data", multipart(try good()).body)
        },
        BadUpload("multipart/form-data with an empty boundary", 400, mentions: ["boundary"]) {
            ("multipart/form-data; boundary=", multipart(try good()).body)
        },
        BadUpload("name ..", query: "?name=..", 400) { multipart(try good()) },
        BadUpload("name %2e%2e", query: "?name=%2e%2e", 400) { multipart(try good()) },
        BadUpload("name a/b/c", query: "?name=a/b/c", 400) { multipart(try good()) },
        BadUpload("name a%2Fb%2Fc", query: "?name=a%2Fb%2Fc", 400) { multipart(try good()) },
        BadUpload("name a/squeezed", query: "?name=a/squeezed", 400) { multipart(try good()) },
        BadUpload("name of 129 characters", query: "?name=" + String(repeating: "n", count: 129), 400, mentions: ["129"]) { multipart(try good()) },
        BadUpload("name that is a digest", query: "?name=" + String(repeating: "ab", count: 32), 400) { multipart(try good()) },
        BadUpload("name starting with -", query: "?name=-rf", 400) { multipart(try good()) },
        BadUpload("empty name", query: "?name=", 400) { multipart(try good()) },
    ]
}
