import AdapterFormats
import Foundation
import SqueezeEngine

/// Writes the per-module projections `<module>.T_A` (t×r) and `<module>.T_B` (r×t) as F32 safetensors,
/// so a trainer annealing the rank can map its optimizer moments: m_A' = T_A·m_A, m_B' = m_B·T_B.
enum ProjectionsFile {
    static func write(_ projections: [String: SqueezedModule.Projections], to url: URL) throws {
        var tensors: [TensorToWrite] = []
        for (name, p) in projections.sorted(by: { $0.key < $1.key }) {
            tensors.append(try .floats(p.tA.storage, name: name + ".T_A", shape: p.tA.shape, dtype: .f32))
            tensors.append(try .floats(p.tB.storage, name: name + ".T_B", shape: p.tB.shape, dtype: .f32))
        }
        try SafetensorsWriter.write(tensors, metadata: ["content": "lora-squeeze projections"], to: url)
    }
}
