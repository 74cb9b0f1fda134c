import AdapterFormats
import SqueezeEngine

/// The size of what a request would have the service compute, from the adapter's stored description
/// (every module's shape and dtype) before anything is computed or even read: the module tensors
/// exactly, plus everything else the source holds (passed-through tensors, header, config) as an upper
/// bound. Checked arithmetic throughout: a product past `Int64` is reported as `Int64.max`.
enum OutputSize {
    /// Per-tensor slack for a header whose numbers grew (offsets, shapes at the new rank).
    static let headerSlackPerModule: Int64 = 128

    /// The squeezed weights at `rank` in `dtype` (nil: each module's own, F64 written as F32), for a
    /// stored adapter of `sourceBytes` in all (its config and weights).
    static func squeezed(sourceBytes: Int64, _ inspection: AdapterInspection, rank: Int, dtype: DType?) -> Int64 {
        var total = Int64(0)
        for m in inspection.modules {
            let width = Int64(outputType(m, dtype).byteWidth)
            guard let sum = checked(Int64(m.outFeatures), Int64(m.inFeatures), add: true),
                  let elements = checked(sum, Int64(rank)),
                  let bytes = checked(elements, width),
                  let running = checked(total, bytes, add: true) else { return .max }
            total = running
        }
        // kohya writes a 4-byte alpha per module; everything else of the source comes along at most once.
        let modules = Int64(inspection.modules.count)
        let rest = max(0, sourceBytes - Int64(inspection.bytes)) + modules * (4 + headerSlackPerModule)
        return checked(total, rest, add: true) ?? .max
    }

    /// The dense deltas (`out × in` per module) in `dtype` (nil: each module's own).
    static func delta(_ inspection: AdapterInspection, dtype: DType?) -> Int64 {
        var total = Int64(0)
        for m in inspection.modules {
            let width = Int64(outputType(m, dtype).byteWidth)
            guard let elements = checked(Int64(m.outFeatures), Int64(m.inFeatures)),
                  let bytes = checked(elements, width),
                  let running = checked(total, bytes + headerSlackPerModule, add: true) else { return .max }
            total = running
        }
        return total
    }

    private static func outputType(_ m: AdapterInspection.Module, _ dtype: DType?) -> DType {
        if let dtype { return dtype }
        guard let own = DType(rawValue: m.dtype), own.isFloatWritable else { return .f32 }
        return own
    }

    private static func checked(_ a: Int64, _ b: Int64, add: Bool = false) -> Int64? {
        let (value, overflow) = add ? a.addingReportingOverflow(b) : a.multipliedReportingOverflow(by: b)
        return overflow ? nil : value
    }
}
