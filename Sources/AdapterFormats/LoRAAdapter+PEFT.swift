import Foundation

extension LoRAAdapter {
    /// The prefix PEFT puts before every module path in a saved adapter.
    public static let peftPrefix = "base_model.model."

    /// Reads a PEFT adapter directory (`adapter_config.json` + `adapter_model.safetensors`).
    public static func loadPEFT(directory: URL, limits: SafetensorsLimits = .init(),
                                adapterLimits: AdapterLimits = .init()) throws(AdapterError) -> LoRAAdapter {
        let configURL = directory.appendingPathComponent(PEFTFiles.config)
        guard FileManager.default.fileExists(atPath: configURL.path) else { throw .missingFile(configURL.path) }
        let data: Data
        do { data = try Data(contentsOf: configURL) } catch {
            throw .io(path: configURL.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        let config = try PEFTConfig(json: data, limits: adapterLimits)
        let weights = try open(directory.appendingPathComponent(PEFTFiles.weights), limits: limits)
        return try peft(config: config, weights: weights, limits: adapterLimits)
    }

    /// Builds a PEFT adapter from a parsed config and its weights, checking every module against
    /// the config and `limits` (module count, rank, pattern-matching work) before computing anything.
    public static func peft(config: PEFTConfig, weights: SafetensorsFile, limits: AdapterLimits = .init()) throws(AdapterError) -> LoRAAdapter {
        var halves: [String: (a: TensorEntry?, b: TensorEntry?, embedding: Bool)] = [:]
        var order: [String] = []
        var passthrough: [TensorEntry] = []
        for entry in weights.tensors {
            guard let parsed = PEFTTensorName(entry.name) else { passthrough.append(entry); continue }
            switch parsed.role {
            case .magnitude:
                throw .unsupported("tensor \(entry.name): a DoRA magnitude vector; DoRA adapters depend on the base weights and cannot be squeezed without them")
            case .bias:
                passthrough.append(entry)
            case .a, .b:
                if halves[parsed.key] == nil {
                    order.append(parsed.key)
                    guard order.count <= limits.maxModules else { throw .tooManyModules(limit: limits.maxModules) }
                }
                var h = halves[parsed.key] ?? (nil, nil, parsed.embedding)
                if parsed.role == .a {
                    if h.a != nil { throw .shapeMismatch(tensor: entry.name, detail: "a second lora_A for module \(parsed.key) (several adapter names in one file?)") }
                    h.a = entry
                } else {
                    if h.b != nil { throw .shapeMismatch(tensor: entry.name, detail: "a second lora_B for module \(parsed.key) (several adapter names in one file?)") }
                    h.b = entry
                }
                halves[parsed.key] = h
            }
        }
        let names = order.map { $0.hasPrefix(peftPrefix) ? String($0.dropFirst(peftPrefix.count)) : $0 }
        let work = config.patternWork(modules: names)
        guard work <= limits.maxPatternWork else {
            throw .patternsTooCostly(modules: names.count, work: work, limit: limits.maxPatternWork)
        }
        var modules: [LoRAModule] = []
        for (key, name) in zip(order, names) {
            guard let h = halves[key] else { continue }   // every key in `order` has its halves entry
            guard let a = h.a else { throw .missingPartner(module: name, missing: h.embedding ? "lora_embedding_A" : "lora_A") }
            guard let b = h.b else { throw .missingPartner(module: name, missing: h.embedding ? "lora_embedding_B" : "lora_B") }
            let module = try LoRAModule.make(name: name, key: key, embedding: h.embedding, a: a, b: b,
                                             alpha: config.alpha(for: name), maxRank: limits.maxRank,
                                             scale: { config.scale(for: name, rank: $0) })
            let expected = config.rank(for: name)
            guard expected == module.rank else {
                throw .rankMismatch(module: name, config: expected, tensors: module.rank)
            }
            modules.append(module)
        }
        guard !modules.isEmpty else { throw .noModules("adapter_model.safetensors") }
        return LoRAAdapter(format: .peft(config), modules: modules, passthrough: passthrough, weights: weights)
    }
}

/// A PEFT tensor name taken apart: `<key>.lora_A[.<adapter>].weight`, `<key>.lora_B[.<adapter>].bias`,
/// `<key>.lora_embedding_A[.<adapter>]`, `<key>.lora_magnitude_vector[...]`.
struct PEFTTensorName {
    enum Role { case a, b, bias, magnitude }
    let key: String
    let role: Role
    let embedding: Bool
    /// `lora_A`, `lora_B`, `lora_embedding_A`, … (a bias belongs to the factor it names).
    let marker: String

    init?(_ name: String) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard let i = parts.lastIndex(where: { Self.markers.contains(String($0)) }), i > 0 else { return nil }
        let marker = String(parts[i])
        self.marker = marker
        let rest = parts[(i + 1)...].map(String.init)
        key = parts[..<i].joined(separator: ".")
        embedding = marker.hasPrefix("lora_embedding")
        if marker == "lora_magnitude_vector" { role = .magnitude; return }
        if embedding {
            // Saved as a bare parameter: no ".weight"; an adapter name may follow.
            guard rest.count <= 1 else { return nil }
            role = marker.hasSuffix("A") ? .a : .b
            return
        }
        guard let last = rest.last, rest.count <= 2 else { return nil }
        switch last {
        case "weight": role = marker == "lora_A" ? .a : .b
        case "bias": role = .bias
        default: return nil
        }
    }

    static let markers: Set<String> = ["lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector"]
}
