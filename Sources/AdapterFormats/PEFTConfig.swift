import Foundation

/// A PEFT `adapter_config.json`. The fields the squeeze needs are read and checked; every other
/// field is kept as it was and written back unchanged.
public struct PEFTConfig: Sendable, Equatable {
    /// Every field of the file, known or not.
    public private(set) var fields: [String: JSONValue]

    public let rank: Int
    public let alpha: Double
    let rankTable: PatternTable<Int>
    let alphaTable: PatternTable<Double>
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

    /// `rank_pattern` in the order keys are tried (longest first).
    public var rankPattern: [(key: String, value: Int)] { rankTable.entries.map { ($0.key.key, $0.value) } }
    /// `alpha_pattern` in the order keys are tried (longest first).
    public var alphaPattern: [(key: String, value: Double)] { alphaTable.entries.map { ($0.key.key, $0.value) } }

    public static func == (l: PEFTConfig, r: PEFTConfig) -> Bool { l.fields == r.fields }

    /// Parses and checks the config's bytes.
    public init(json data: Data, limits: AdapterLimits = .init()) throws(AdapterError) {
        let value: JSONValue
        do { value = try JSONValue.parse(Array(data)) } catch {
            throw .invalidConfig(field: "(document)", reason: error.description)
        }
        guard let fields = value.objectValue else {
            throw .invalidConfig(field: "(document)", reason: "must be a JSON object")
        }
        try self.init(fields: fields, limits: limits)
    }

    public init(fields: [String: JSONValue], limits: AdapterLimits = .init()) throws(AdapterError) {
        // Every value must be writable back as JSON (`encoded()`): no NaN or ±Inf anywhere.
        if let path = JSONValue.object(fields).firstNonFiniteNumber() {
            throw .invalidConfig(field: path, reason: "is not a finite number")
        }
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
        self.rankTable = try Self.pattern(fields, "rank_pattern", limits: limits) { v in
            guard let i = v.intValue, i >= 1 else { return nil }
            return i
        }
        self.alphaTable = try Self.pattern(fields, "alpha_pattern", limits: limits) { v in
            guard let d = v.doubleValue, d.isFinite else { return nil }
            return d
        }
        if useDoRA {
            throw .unsupported("adapter_config.json: use_dora is true; a DoRA adapter's magnitude vector depends on the base weights, so it cannot be squeezed without them")
        }
    }

    /// The rank `rank_pattern` (or `r`) gives a module.
    public func rank(for module: String) -> Int {
        rankTable.firstMatch(module) ?? rank
    }

    /// The alpha `alpha_pattern` (or `lora_alpha`) gives a module.
    public func alpha(for module: String) -> Double {
        alphaTable.firstMatch(module) ?? alpha
    }

    /// An upper bound on the steps `rank(for:)` and `alpha(for:)` take over all of `modules`,
    /// computed without matching (`AdapterLimits.maxPatternWork` bounds it).
    public func patternWork(modules: [String]) -> Int {
        let (sum, overflow) = rankTable.cost(names: modules).addingReportingOverflow(alphaTable.cost(names: modules))
        return overflow ? Int.max : sum
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
        return PEFTConfig(derived: f, from: self, rank: rank, alpha: Double(rank),
                          rankTable: PatternTable([]), alphaTable: PatternTable([]))
    }

    /// The config of an adapter whose modules keep their own ranks, each with scale 1:
    /// `r = lora_alpha = base`, and patterns naming every module of another rank (PEFT only; vLLM ignores patterns).
    /// Throws when a module name is not a valid pattern key (PEFT reads keys as regular expressions).
    public func perModule(ranks: [String: Int], base: Int) throws(AdapterError) -> PEFTConfig {
        var f = fields
        f["r"] = .number(Double(base))
        f["lora_alpha"] = .number(Double(base))
        let others = ranks.filter { $0.value != base }
        f["rank_pattern"] = .object(others.mapValues { .number(Double($0)) })
        f["alpha_pattern"] = .object(others.mapValues { .number(Double($0)) })
        f["use_rslora"] = .bool(false)
        var keys: [(key: PatternKey, value: Int)] = []
        for (name, r) in others {
            do throws(PatternRegexError) { keys.append((try PatternKey(name), r)) } catch {
                throw .invalidConfig(field: "rank_pattern.\(name)", reason: "(a module name) is not a valid regular expression: \(error)")
            }
        }
        return PEFTConfig(derived: f, from: self, rank: base, alpha: Double(base),
                          rankTable: PatternTable(keys), alphaTable: PatternTable(keys.map { ($0.key, Double($0.value)) }))
    }

    /// A config this type derived from a valid one: the flags are the original's, rsLoRA off.
    private init(derived fields: [String: JSONValue], from original: PEFTConfig, rank: Int, alpha: Double,
                 rankTable: PatternTable<Int>, alphaTable: PatternTable<Double>) {
        self.fields = fields
        self.rank = rank
        self.alpha = alpha
        self.rankTable = rankTable
        self.alphaTable = alphaTable
        self.useRSLoRA = false
        self.useDoRA = original.useDoRA
        self.fanInFanOut = original.fanInFanOut
    }

    /// Pretty, key-sorted JSON. Cannot fail: `init` refused every value JSON cannot hold.
    public func encoded() -> Data {
        do { return try JSONValue.object(fields).encodedPretty() } catch {
            preconditionFailure("adapter_config.json fields were checked to be encodable: \(error)")
        }
    }

    private static func flag(_ fields: [String: JSONValue], _ name: String) throws(AdapterError) -> Bool {
        guard let v = fields[name], !v.isNull else { return false }
        guard let b = v.boolValue else { throw .invalidConfig(field: name, reason: "must be true or false") }
        return b
    }

    private static func pattern<V>(_ fields: [String: JSONValue], _ name: String, limits: AdapterLimits,
                                   _ convert: (JSONValue) -> V?) throws(AdapterError) -> PatternTable<V> {
        guard let v = fields[name], !v.isNull else { return PatternTable([]) }
        guard let object = v.objectValue else { throw .invalidConfig(field: name, reason: "must be an object") }
        guard object.count <= limits.maxPatternKeys else {
            throw .invalidConfig(field: name, reason: "has \(object.count) keys; at most \(limits.maxPatternKeys) are accepted")
        }
        var out: [(key: PatternKey, value: V)] = []
        for (key, raw) in object.sorted(by: { $0.key < $1.key }) {
            let field = "\(name).\(key.prefix(200))"
            guard key.utf8.count <= limits.maxPatternKeyBytes else {
                throw .invalidConfig(field: field, reason: "is a key of \(key.utf8.count) bytes; at most \(limits.maxPatternKeyBytes) are accepted")
            }
            guard let value = convert(raw) else {
                throw .invalidConfig(field: field, reason: name == "rank_pattern"
                                     ? "must be a positive integer" : "must be a finite number")
            }
            do throws(PatternRegexError) { out.append((try PatternKey(key), value)) } catch {
                throw .invalidConfig(field: field, reason: "is not a regular expression this service accepts: \(error)")
            }
        }
        return PatternTable(out)
    }
}
