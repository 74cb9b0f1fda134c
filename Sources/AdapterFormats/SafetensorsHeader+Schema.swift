/// The header's schema, read straight off the JSON tokens:
///
///     { "__metadata__"?: { KEY: STRING, ... },
///       NAME: { "dtype": STRING, "shape": [UINT, ...], "data_offsets": [UINT, UINT] }, ... }
///
/// Each rule is checked as its bytes are read, so a hostile header is rejected before it
/// can make the parser allocate much (the tensor count and rank limits apply mid-array).
extension SafetensorsHeader {
    static let metadataKey = "__metadata__"

    static func readRoot(
        _ reader: inout SafetensorsJSONReader, limits: SafetensorsLimits
    ) throws(SafetensorsError) -> (metadata: [String: String]?, entries: [TensorEntry]) {
        var metadata: [String: String]?
        var entries: [TensorEntry] = []
        var names = Set<String>()
        try reader.beginObject()
        var first = true
        while let key = try reader.nextKey(first: first) {
            first = false
            if key == metadataKey {
                guard metadata == nil else { throw .duplicateMetadata }
                metadata = try readMetadata(&reader)
                continue
            }
            // Not rules of the reference, which accepts any string: an empty name or one
            // with NUL cannot be looked up by PEFT/kohya names or passed through C APIs.
            guard !key.isEmpty else { throw .emptyTensorName }
            guard !key.utf8.contains(0) else { throw .tensorNameContainsNUL(key) }
            // A JSON object with a repeated key is ambiguous (RFC 8259 §4: names SHOULD be
            // unique); serde's HashMap keeps the last one silently, so reject it instead.
            guard names.insert(key).inserted else { throw .duplicateTensorName(key) }
            guard entries.count < limits.maxTensorCount else { throw .tooManyTensors(limit: limits.maxTensorCount) }
            entries.append(try readEntry(named: key, &reader, limits: limits))
        }
        return (metadata, entries)
    }

    /// `__metadata__`: in the reference, `Option<HashMap<String, String>>`.
    private static func readMetadata(_ reader: inout SafetensorsJSONReader) throws(SafetensorsError) -> [String: String] {
        guard try reader.kindOfNextValue() == .object else { throw .metadataNotObject }
        try reader.beginObject()
        var metadata: [String: String] = [:]
        var first = true
        while let key = try reader.nextKey(first: first) {
            first = false
            guard try reader.kindOfNextValue() == .string else { throw .metadataValueNotString(key: key) }
            let value = try reader.readString()
            guard metadata.updateValue(value, forKey: key) == nil else { throw .duplicateMetadataKey(key) }
        }
        return metadata
    }

    /// One tensor: in the reference, `TensorInfo { dtype, shape: Vec<usize>, data_offsets: (usize, usize) }`.
    private static func readEntry(
        named name: String, _ reader: inout SafetensorsJSONReader, limits: SafetensorsLimits
    ) throws(SafetensorsError) -> TensorEntry {
        guard try reader.kindOfNextValue() == .object else { throw .entryNotObject(tensor: name) }
        try reader.beginObject()
        var dtype: DType?
        var shape: [Int]?
        var offsets: (begin: Int, end: Int)?
        var first = true
        while let field = try reader.nextKey(first: first) {
            first = false
            switch field {
            case "dtype":
                guard dtype == nil else { throw .duplicateField(tensor: name, field: field) }
                guard try reader.kindOfNextValue() == .string else {
                    throw .fieldType(tensor: name, field: field, expected: "a string such as \"F32\"")
                }
                let text = try reader.readString()
                guard let parsed = DType(rawValue: text) else { throw .unknownDType(tensor: name, dtype: text) }
                dtype = parsed
            case "shape":
                guard shape == nil else { throw .duplicateField(tensor: name, field: field) }
                shape = try readShape(of: name, &reader, maxRank: limits.maxRank)
            case "data_offsets":
                guard offsets == nil else { throw .duplicateField(tensor: name, field: field) }
                offsets = try readOffsets(of: name, &reader)
            default:
                // Stricter than the reference (serde ignores unknown fields): an unknown
                // field is more likely a misspelt or foreign format than a harmless extra.
                throw .unexpectedField(tensor: name, field: field)
            }
        }
        guard let dtype else { throw .missingField(tensor: name, field: "dtype") }
        guard let shape else { throw .missingField(tensor: name, field: "shape") }
        guard let offsets else { throw .missingField(tensor: name, field: "data_offsets") }

        // Reference `validate`: e < s → InvalidOffset.
        guard offsets.begin <= offsets.end else {
            throw .dataOffsetsReversed(tensor: name, begin: offsets.begin, end: offsets.end)
        }
        // Element count and byte size with checked arithmetic → ValidationOverflow.
        guard let byteCount = byteCount(of: shape, dtype: dtype) else {
            throw .sizeOverflow(tensor: name, dtype: dtype, shape: shape)
        }
        // e - s must equal element count × width → TensorInvalidInfo.
        guard offsets.end - offsets.begin == byteCount else {
            throw .byteLengthMismatch(tensor: name, begin: offsets.begin, end: offsets.end, dtype: dtype, shape: shape)
        }
        return TensorEntry(name: name, dtype: dtype, shape: shape, byteRange: offsets.begin ..< offsets.end)
    }

    private static func readShape(
        of name: String, _ reader: inout SafetensorsJSONReader, maxRank: Int
    ) throws(SafetensorsError) -> [Int] {
        guard try reader.kindOfNextValue() == .array else {
            throw .fieldType(tensor: name, field: "shape", expected: "an array of non-negative integers")
        }
        try reader.beginArray()
        var dims: [Int] = []
        while try reader.nextElement(first: dims.isEmpty) {
            guard dims.count < maxRank else { throw .tooManyDimensions(tensor: name, limit: maxRank) }
            let kind = try reader.kindOfNextValue()
            guard kind == .number else {
                throw .invalidDimension(tensor: name, index: dims.count, value: kind.description)
            }
            let number = try reader.readNumber()
            guard let dim = number.nonNegativeInteger else {
                throw .invalidDimension(tensor: name, index: dims.count, value: number.text)
            }
            dims.append(dim)
        }
        return dims
    }

    private static func readOffsets(
        of name: String, _ reader: inout SafetensorsJSONReader
    ) throws(SafetensorsError) -> (begin: Int, end: Int) {
        guard try reader.kindOfNextValue() == .array else { throw .invalidDataOffsets(tensor: name) }
        try reader.beginArray()
        var values: [Int] = []
        while try reader.nextElement(first: values.isEmpty) {
            guard values.count < 2, try reader.kindOfNextValue() == .number,
                  let value = try reader.readNumber().nonNegativeInteger
            else { throw .invalidDataOffsets(tensor: name) }
            values.append(value)
        }
        guard values.count == 2 else { throw .invalidDataOffsets(tensor: name) }
        return (values[0], values[1])
    }

    /// Element count × dtype width, or nil if either product overflows `Int`.
    static func byteCount(of shape: [Int], dtype: DType) -> Int? {
        var count = 1
        for dim in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            count = product
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteWidth)
        return overflow ? nil : bytes
    }
}
