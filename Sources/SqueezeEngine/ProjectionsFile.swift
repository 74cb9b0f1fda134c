import AdapterFormats
import Foundation

/// The per-module projections `<module>.T_A` (t×r) and `<module>.T_B` (r×t) as F32 safetensors, so a
/// trainer annealing the rank can map the adapter and its optimizer moments: A' = T_A·A, B' = B·T_B,
/// m_A' = T_A·m_A, m_B' = m_B·T_B (the CLI's `--projections`, and the service's
/// `…/squeezed/{rank}/projections.safetensors`).
public enum ProjectionsFile {
    public static let metadata = ["content": "lora-squeeze projections"]

    public static func tensors(_ projections: [String: SqueezedModule.Projections]) throws -> [TensorToWrite] {
        var tensors: [TensorToWrite] = []
        for (name, p) in projections.sorted(by: { $0.key < $1.key }) {
            tensors.append(try .floats(p.tA.storage, name: name + ".T_A", shape: p.tA.shape, dtype: .f32))
            tensors.append(try .floats(p.tB.storage, name: name + ".T_B", shape: p.tB.shape, dtype: .f32))
        }
        return tensors
    }

    public static func encode(_ projections: [String: SqueezedModule.Projections]) throws -> [UInt8] {
        try SafetensorsWriter.encode(try tensors(projections), metadata: metadata)
    }

    public static func write(_ projections: [String: SqueezedModule.Projections], to url: URL) throws {
        try SafetensorsWriter.write(try tensors(projections), metadata: metadata, to: url)
    }
}
