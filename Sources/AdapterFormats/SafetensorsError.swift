/// Why a safetensors file was rejected, or a tensor could not be read or written.
///
/// Each case names the tensor at fault when there is one, and its `description` says which
/// rule was broken, in terms a user can act on.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    // MARK: Framing: the 8-byte length and the header bytes
    /// The file has fewer than the 8 bytes of the header-length prefix.
    case fileTooShort(byteCount: Int)
    /// The header-length prefix exceeds `SafetensorsLimits.maxHeaderBytes`.
    case headerTooLarge(length: UInt64, limit: Int)
    /// The header-length prefix points past the end of the file.
    case headerPastEndOfFile(length: UInt64, fileLength: Int)
    /// The header bytes are not UTF-8; `offset` is the first bad byte, from the header's start.
    case headerNotUTF8(offset: Int)
    /// The header does not begin with `{`.
    case headerNotObject
    /// The header is not valid JSON; `offset` is counted from the header's start.
    case headerNotJSON(offset: Int, reason: String)
    /// Something other than space padding follows the header's closing `}`.
    case headerTrailingBytes(offset: Int)

    // MARK: Tensor entries
    case emptyTensorName
    case tensorNameContainsNUL(String)
    case duplicateTensorName(String)
    case tooManyTensors(limit: Int)
    case entryNotObject(tensor: String)
    case missingField(tensor: String, field: String)
    case unexpectedField(tensor: String, field: String)
    case duplicateField(tensor: String, field: String)
    /// A field has the wrong JSON type (`expected` says what it must be).
    case fieldType(tensor: String, field: String, expected: String)
    case unknownDType(tensor: String, dtype: String)
    /// `shape[index]` is not a non-negative integer that fits in `Int`; `value` is its JSON text.
    case invalidDimension(tensor: String, index: Int, value: String)
    case tooManyDimensions(tensor: String, limit: Int)
    /// The element count or byte size of the shape does not fit in `Int`.
    case sizeOverflow(tensor: String, dtype: DType, shape: [Int])
    /// `data_offsets` is not an array of exactly two non-negative integers that fit in `Int`.
    case invalidDataOffsets(tensor: String)
    case dataOffsetsReversed(tensor: String, begin: Int, end: Int)
    /// `end - begin` differs from element count × dtype width.
    case byteLengthMismatch(tensor: String, begin: Int, end: Int, dtype: DType, shape: [Int])

    // MARK: __metadata__
    case metadataNotObject
    case metadataValueNotString(key: String)
    case duplicateMetadataKey(String)
    /// The header has more than one `__metadata__` key.
    case duplicateMetadata

    // MARK: Data-section layout
    /// Sorted by begin offset, a tensor does not start where the previous one ends (or,
    /// when `previous` is nil, the first one does not start at 0).
    case offsetsNotContiguous(tensor: String, begin: Int, expected: Int, previous: String?)
    /// The data section ends before the tensors do; `tensor` is the first one it cuts into.
    case dataTruncated(tensor: String, end: Int, dataLength: Int)
    /// The data section runs on past the last tensor.
    case trailingData(end: Int, dataLength: Int)

    // MARK: Access
    case missingTensor(String)
    case notFloatReadable(tensor: String, dtype: DType)

    // MARK: Writing
    case notFloatWritable(tensor: String, dtype: DType)
    case valueCountMismatch(tensor: String, shape: [Int], count: Int)
    case bytesDoNotMatchShape(tensor: String, dtype: DType, shape: [Int], byteCount: Int)
    /// A tensor may not be called `__metadata__`: the header reserves that key.
    case reservedTensorName(String)

    // MARK: Operating system
    /// Opening, mapping or writing the file failed; `reason` is the system's message.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .fileTooShort(byteCount):
            return "file is \(byteCount) bytes, too short for the 8-byte header length that starts every safetensors file"
        case let .headerTooLarge(length, limit):
            return "header length \(length) exceeds the limit of \(limit) bytes (maxHeaderBytes)"
        case let .headerPastEndOfFile(length, fileLength):
            return "header length \(length) runs past the end of the file: 8 + \(length) > \(fileLength) bytes"
        case let .headerNotUTF8(offset):
            return "header is not valid UTF-8 (bad byte at header offset \(offset))"
        case .headerNotObject:
            return "header must be a JSON object beginning with '{'"
        case let .headerNotJSON(offset, reason):
            return "header is not valid JSON at header offset \(offset): \(reason)"
        case let .headerTrailingBytes(offset):
            return "header has bytes after its closing '}' at header offset \(offset); only spaces (0x20) may pad it"

        case .emptyTensorName:
            return "a tensor has an empty name"
        case let .tensorNameContainsNUL(name):
            return "tensor \(quoted(name)): name contains a NUL character"
        case let .duplicateTensorName(name):
            return "tensor \(quoted(name)) appears more than once in the header"
        case let .tooManyTensors(limit):
            return "header describes more than \(limit) tensors (maxTensorCount)"
        case let .entryNotObject(tensor):
            return "tensor \(quoted(tensor)): entry must be a JSON object with dtype, shape and data_offsets"
        case let .missingField(tensor, field):
            return "tensor \(quoted(tensor)): missing field \"\(field)\""
        case let .unexpectedField(tensor, field):
            return "tensor \(quoted(tensor)): unexpected field \(quoted(field)); only dtype, shape and data_offsets are allowed"
        case let .duplicateField(tensor, field):
            return "tensor \(quoted(tensor)): field \"\(field)\" appears more than once"
        case let .fieldType(tensor, field, expected):
            return "tensor \(quoted(tensor)): \(field) must be \(expected)"
        case let .unknownDType(tensor, dtype):
            return "tensor \(quoted(tensor)): unknown dtype \(quoted(dtype)); known: "
                + DType.allCases.map(\.rawValue).joined(separator: ", ")
        case let .invalidDimension(tensor, index, value):
            return "tensor \(quoted(tensor)): shape[\(index)] is \(value); dimensions must be non-negative integers"
        case let .tooManyDimensions(tensor, limit):
            return "tensor \(quoted(tensor)): shape has more than \(limit) dimensions (maxRank)"
        case let .sizeOverflow(tensor, dtype, shape):
            return "tensor \(quoted(tensor)): \(dtype.rawValue) shape \(shape) is too large: its byte size overflows"
        case let .invalidDataOffsets(tensor):
            return "tensor \(quoted(tensor)): data_offsets must be [begin, end], two non-negative integers"
        case let .dataOffsetsReversed(tensor, begin, end):
            return "tensor \(quoted(tensor)): data_offsets [\(begin), \(end)] end before they begin"
        case let .byteLengthMismatch(tensor, begin, end, dtype, shape):
            let needed = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
                .multipliedReportingOverflow(by: dtype.byteWidth).partialValue
            return "tensor \(quoted(tensor)): data_offsets [\(begin), \(end)] hold \(end - begin) bytes but \(dtype.rawValue) shape \(shape) needs \(needed)"

        case .metadataNotObject:
            return "__metadata__ must be a JSON object of string values"
        case let .metadataValueNotString(key):
            return "__metadata__ key \(quoted(key)): value must be a string"
        case let .duplicateMetadataKey(key):
            return "__metadata__ key \(quoted(key)) appears more than once"
        case .duplicateMetadata:
            return "header has more than one __metadata__ entry"

        case let .offsetsNotContiguous(tensor, begin, expected, previous):
            guard let previous else {
                return "tensor \(quoted(tensor)): data starts at \(begin) but the first tensor must start at 0"
            }
            let relation = begin > expected
                ? "leaving a gap of \(begin - expected) bytes after"
                : "overlapping"
            return "tensor \(quoted(tensor)): data starts at \(begin), \(relation) tensor \(quoted(previous)) which ends at \(expected); tensors must be contiguous"
        case let .dataTruncated(tensor, end, dataLength):
            return "tensor \(quoted(tensor)): data ends at \(end) but the data section has only \(dataLength) bytes (file truncated?)"
        case let .trailingData(end, dataLength):
            return "data section has \(dataLength) bytes but the tensors end at \(end): \(dataLength - end) trailing bytes"

        case let .missingTensor(name):
            return "tensor \(quoted(name)) is not in the file"
        case let .notFloatReadable(tensor, dtype):
            return "tensor \(quoted(tensor)): dtype \(dtype.rawValue) cannot be read as floats (only F32, F16, BF16, F64)"

        case let .notFloatWritable(tensor, dtype):
            return "tensor \(quoted(tensor)): cannot encode floats as \(dtype.rawValue) (only F32, F16, BF16)"
        case let .valueCountMismatch(tensor, shape, count):
            return "tensor \(quoted(tensor)): \(count) values do not fill shape \(shape)"
        case let .bytesDoNotMatchShape(tensor, dtype, shape, byteCount):
            return "tensor \(quoted(tensor)): \(byteCount) bytes do not match \(dtype.rawValue) shape \(shape)"
        case let .reservedTensorName(name):
            return "tensor \(quoted(name)): the name is reserved for the header's metadata"

        case let .io(path, reason):
            return "\(path): \(reason)"
        }
    }

    /// A name in double quotes with control characters escaped, so NULs and newlines stay visible.
    private func quoted(_ name: String) -> String {
        name.debugDescription
    }
}
