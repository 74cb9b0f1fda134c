/// A safetensors element type, spelled as in the header's `"dtype"` field.
///
/// The set and the widths follow the reference implementation (huggingface/safetensors,
/// `tensor.rs`, `Dtype::size`). Values are little-endian, tensors row-major ("C" order).
public enum DType: String, Sendable, CaseIterable, Codable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2", i16 = "I16", u16 = "U16",
         f16 = "F16", bf16 = "BF16", i32 = "I32", u32 = "U32", f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// Whether `SafetensorsFile.floats(_:)` can decode this dtype to `Float`.
    public var isFloatReadable: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16: true
        default: false
        }
    }

    /// Whether `TensorToWrite.floats(_:name:shape:dtype:)` can encode `Float` values as this dtype.
    public var isFloatWritable: Bool {
        switch self {
        case .f32, .f16, .bf16: true
        default: false
        }
    }
}
