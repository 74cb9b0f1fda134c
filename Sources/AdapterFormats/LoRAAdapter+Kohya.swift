import Foundation

extension LoRAAdapter {
    /// Reads a kohya / sd-scripts LoRA file: `<key>.lora_down.weight` (A), `<key>.lora_up.weight` (B)
    /// and an optional scalar `<key>.alpha` (scale = alpha / r; no alpha means alpha = r).
    public static func loadKohya(file: URL, limits: SafetensorsLimits = .init(),
                                 adapterLimits: AdapterLimits = .init()) throws(AdapterError) -> LoRAAdapter {
        try kohya(weights: try open(file, limits: limits), fileName: file.lastPathComponent, limits: adapterLimits)
    }

    public static func kohya(weights: SafetensorsFile, fileName: String = "weights",
                             limits: AdapterLimits = .init()) throws(AdapterError) -> LoRAAdapter {
        var downs: [String: TensorEntry] = [:], ups: [String: TensorEntry] = [:], alphas: [String: TensorEntry] = [:]
        var order: [String] = []
        var others: [TensorEntry] = []
        for entry in weights.tensors {
            let n = entry.name
            if n.hasSuffix(".dora_scale") {
                throw .unsupported("tensor \(n): a DoRA scale; DoRA adapters depend on the base weights and cannot be squeezed without them")
            } else if n.hasSuffix(".lora_down.weight") {
                let key = String(n.dropLast(".lora_down.weight".count))
                downs[key] = entry
                order.append(key)
                guard order.count <= limits.maxModules else { throw .tooManyModules(limit: limits.maxModules) }
            } else if n.hasSuffix(".lora_up.weight") {
                ups[String(n.dropLast(".lora_up.weight".count))] = entry
            } else if n.hasSuffix(".alpha") {
                alphas[String(n.dropLast(".alpha".count))] = entry
            } else {
                others.append(entry)
            }
        }
        for key in ups.keys where downs[key] == nil { throw .missingPartner(module: key, missing: "lora_down.weight") }
        var modules: [LoRAModule] = []
        var passthrough = others
        for key in order {
            guard let up = ups[key] else { throw .missingPartner(module: key, missing: "lora_up.weight") }
            guard let down = downs[key] else { continue }   // every key in `order` was added with its down
            var alpha: Double?
            if let a = alphas.removeValue(forKey: key) {
                guard a.elementCount == 1 else {
                    throw .shapeMismatch(tensor: a.name, detail: "alpha must hold one value, has shape \(a.shape)")
                }
                alpha = try finiteDoubles(weights, a)[0]
            }
            let module = try LoRAModule.make(name: key, key: key, embedding: false, a: down, b: up,
                                             alpha: alpha ?? Double(down.shape.first ?? 1), maxRank: limits.maxRank,
                                             scale: { r in (alpha ?? Double(r)) / Double(r) })
            modules.append(module)
        }
        passthrough += alphas.values.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        guard !modules.isEmpty else { throw .noModules(fileName) }
        return LoRAAdapter(format: .kohya, modules: modules, passthrough: passthrough, weights: weights)
    }
}
