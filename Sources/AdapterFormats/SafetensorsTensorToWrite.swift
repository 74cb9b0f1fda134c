/// A tensor to be written to a safetensors file: its name, dtype, shape and bytes.
/// Nothing is checked here; `SafetensorsWriter` validates every tensor before writing.
public struct TensorToWrite: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Little-endian element bytes, already in `dtype`, row-major.
    public let bytes: [UInt8]

    public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Encodes `values` as `dtype` (F32 exactly; F16 and BF16 rounded to nearest even).
    /// Throws `.notFloatWritable` for other dtypes, `.invalidDimension` for a negative
    /// dimension, `.sizeOverflow`, or `.valueCountMismatch` when the shape's element count
    /// is not `values.count`.
    public static func floats(_ values: [Float], name: String, shape: [Int], dtype: DType) throws(SafetensorsError) -> TensorToWrite {
        guard dtype.isFloatWritable else { throw .notFloatWritable(tensor: name, dtype: dtype) }
        guard let byteCount = try SafetensorsWriter.byteCount(of: name, shape: shape, dtype: dtype) else {
            throw .sizeOverflow(tensor: name, dtype: dtype, shape: shape)
        }
        guard byteCount / dtype.byteWidth == values.count else {
            throw .valueCountMismatch(tensor: name, shape: shape, count: values.count)
        }
        return TensorToWrite(name: name, dtype: dtype, shape: shape, bytes: FloatConversion.encode(values, as: dtype))
    }
}
