/// One tensor described by a safetensors header. Entries exist only as the output of
/// `SafetensorsHeader.parse`, so their shape, dtype and byte range always agree.
public struct TensorEntry: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    /// Dimensions, outermost first; `[]` is a scalar (one element).
    public let shape: [Int]
    /// Where the tensor's bytes lie, relative to the start of the data section.
    public let byteRange: Range<Int>

    /// Product of the dimensions (1 for a scalar, 0 when any dimension is 0).
    /// Cannot overflow: the parser rejected shapes whose byte size overflows.
    public var elementCount: Int { shape.reduce(1, *) }

    init(name: String, dtype: DType, shape: [Int], byteRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }
}
