import Foundation

/// A PEFT `adapter_config.json`. The fields the squeeze needs are read and checked; every other
/// field is kept as it was and written back unchanged.
public struct PEFTConfig: Sendable, Equatable {
    /// Every field of the file, known or not.
    public private(set) var fields: [String: JSONValue]

    public let rank: Int
    public let alpha: Double
    public let rankPattern: [(key: String, value: Int)]
    public let alphaPattern: [(key: String, value: Double)]
    public let useRSLoRA: Bool
    public let useDoRA: Bool
    public let fanInFanOut: Bool

    public var baseModel: String? { fields["base_model_name_or_path"]?.stringValue }
    public var taskType: String? { fields["task_type"]?.stringValue }
    public var peftType: String? { fields["peft_type"]?.stringValue }
    public var targetModules: JSONValue? { fields["target_modules"] }
    public var modulesToSave: [String] {
        fields["modules_to_save"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    public static func == (l: PEFTConfig, r: PEFTConfig) -> Bool { l.fields == r.fields }

    /// Parses and checks the config's bytes.
    public init(json data: Data) throws(AdapterError) {
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw .invalidConfig(field: "(document)", reason: "is not valid JSON")
        }
        guard let fields = value.objectValue else {
            throw .invalidConfig(field: "(document)", reason: "must be a JSON object")
        }
        try self.init(fields: fields)
    }

    public init(fields: [String: JSONValue]) throws(AdapterError) {
        self.fields = fields
        if let type = fields["peft_type"], !type.isNull {
            guard let name = type.stringValue else { throw .invalidConfig(field: "peft_type", reason: "must be a string") }
            guard name.uppercased() == "LORA" else {
                throw .unsupported("adapter_config.json: peft_type \"\(name)\" is not supported; only LORA adapters can be squeezed")
            }
        }
        guard let r = fields["r"] else { throw .invalidConfig(field: "r", reason: "is missing") }
        guard let rank = r.intValue, rank >= 1 else {
            throw .invalidConfig(field: "r", reason: "must be a positive integer")
        }
        self.rank = rank
        if let a = fields["lora_alpha"], !a.isNull {
            guard let alpha = a.doubleValue, alpha.isFinite else {
                throw .invalidConfig(field: "lora_alpha", reason: "must be a finite number")
            }
            self.alpha = alpha
        } else {
            self.alpha = 8 // PEFT's LoraConfig default
        }
        self.useRSLoRA = try Self.flag(fields, "use_rslora")
        self.useDoRA = try Self.flag(fields, "use_dora")
        self.fanInFanOut = try Self.flag(fields, "fan_in_fan_out")
        self.rankPattern = try Self.pattern(fields, "rank_pattern") { v in
            guard let i = v.intValue, i >= 1 else { return nil }
            return i
        }
        self.alphaPattern = try Self.pattern(fields, "alpha_pattern") { v in
            guard let d = v.doubleValue, d.isFinite else { return nil }
            return d
        }
        if useDoRA {
            throw .unsupported("adapter_config.json: use_dora is true; a DoRA adapter's magnitude vector depends on the base weights, so it cannot be squeezed without them")
        }
    }

    /// The rank `rank_pattern` (or `r`) gives a module.
    public func rank(for module: String) -> Int {
        PatternKey.firstMatch(rankPattern, module: module) ?? rank
    }

    /// The alpha `alpha_pattern` (or `lora_alpha`) gives a module.
    public func alpha(for module: String) -> Double {
        PatternKey.firstMatch(alphaPattern, module: module) ?? alpha
    }

    /// PEFT's scaling: alpha/r, or alpha/√r with rsLoRA.
    public func scale(for module: String, rank r: Int) -> Double {
        let a = alpha(for: module)
        return useRSLoRA ? a / Double(r).squareRoot() : a / Double(r)
    }

    /// The config of an adapter written at one uniform rank with every scale folded into the
    /// factors: r = lora_alpha = R, no patterns, no rsLoRA — what vLLM loads unchanged.
    public func uniform(rank: Int) -> PEFTConfig {
        var f = fields
        f["r"] = .number(Double(rank))
        f["lora_alpha"] = .number(Double(rank))
        f["rank_pattern"] = .object([:])
        f["alpha_pattern"] = .object([:])
        f["use_rslora"] = .bool(false)
        return try! PEFTConfig(fields: f) // every field checked above stays valid
    }

    /// The config of an adapter whose modules keep their own ranks, each with scale 1:
    /// `r = lora_alpha = base`, and patterns naming every module of another rank (PEFT only; vLLM ignores patterns).
    public func perModule(ranks: [String: Int], base: Int) -> PEFTConfig {
        var f = fields
        f["r"] = .number(Double(base))
        f["lora_alpha"] = .number(Double(base))
        let others = ranks.filter { $0.value != base }
        f["rank_pattern"] = .object(others.mapValues { .number(Double($0)) })
        f["alpha_pattern"] = .object(others.mapValues { .number(Double($0)) })
        f["use_rslora"] = .bool(false)
        return try! PEFTConfig(fields: f)
    }

    /// Pretty, key-sorted JSON.
    public func encoded() -> Data {
        (try? JSONValue.object(fields).encodedPretty()) ?? Data("{}".utf8)
    }

    private static func flag(_ fields: [String: JSONValue], _ name: String) throws(AdapterError) -> Bool {
        guard let v = fields[name], !v.isNull else { return false }
        guard let b = v.boolValue else { throw .invalidConfig(field: name, reason: "must be true or false") }
        return b
    }

    private static func pattern<V>(_ fields: [String: JSONValue], _ name: String,
                                   _ convert: (JSONValue) -> V?) throws(AdapterError) -> [(key: String, value: V)] {
        guard let v = fields[name], !v.isNull else { return [] }
        guard let object = v.objectValue else { throw .invalidConfig(field: name, reason: "must be an object") }
        var out: [(key: String, value: V)] = []
        for (key, raw) in object {
            guard let value = convert(raw) else {
                throw .invalidConfig(field: "\(name).\(key)", reason: name == "rank_pattern"
                                     ? "must be a positive integer" : "must be a finite number")
            }
            out.append((key, value))
        }
        // JSON objects carry no order we can keep; the most specific (longest) key wins, then by name.
        return out.sorted { $0.key.count != $1.key.count ? $0.key.count > $1.key.count : $0.key < $1.key }
    }
}
