/// The validated header of a safetensors file: its tensors and optional metadata.
///
/// File layout (huggingface/safetensors README, "Format"):
///   8 bytes   N, a little-endian u64: the header's length
///   N bytes   a UTF-8 JSON object: `{"__metadata__": {str: str}?, NAME: {"dtype", "shape", "data_offsets"}, ...}`
///   the rest  the data section; `data_offsets` are relative to its start
///
/// `parse` is a pure function of the file's bytes: it never performs I/O, and every
/// rule it enforces is listed beside the check that enforces it.
public struct SafetensorsHeader: Sendable, Equatable {
    /// The `__metadata__` map, or nil when the header has none.
    public let metadata: [String: String]?
    /// Every tensor, sorted by `byteRange.lowerBound`.
    public let tensors: [TensorEntry]
    /// `8 + N`: where the data section starts in the file.
    public let dataOffset: Int
    private let indexByName: [String: Int]

    public func entry(named name: String) -> TensorEntry? {
        indexByName[name].map { tensors[$0] }
    }

    /// Parses and validates the header of a whole file given as bytes (all of them: the
    /// data-section rules need the file length).
    public static func parse(_ file: [UInt8], limits: SafetensorsLimits = .init()) throws(SafetensorsError) -> SafetensorsHeader {
        let result = file.withUnsafeBytes { raw in
            Result { () throws(SafetensorsError) in try parse(raw, limits: limits) }
        }
        return try result.get()
    }

    /// Parses and validates the header of a whole file given as bytes (all of them: the
    /// data-section rules need the file length). Only the header bytes are read.
    public static func parse(_ file: UnsafeRawBufferPointer, limits: SafetensorsLimits = .init()) throws(SafetensorsError) -> SafetensorsHeader {
        // Reference `read_metadata`: fewer than 8 bytes → HeaderTooSmall.
        guard file.count >= 8 else { throw .fileTooShort(byteCount: file.count) }
        let length = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        // N > MAX_HEADER_SIZE → HeaderTooLarge.
        guard length <= UInt64(max(0, limits.maxHeaderBytes)) else {
            throw .headerTooLarge(length: length, limit: limits.maxHeaderBytes)
        }
        let headerLength = Int(length)                   // fits: at most maxHeaderBytes, an Int
        // 8 + N past the end of the buffer → InvalidHeaderLength.
        guard headerLength <= file.count - 8 else {
            throw .headerPastEndOfFile(length: length, fileLength: file.count)
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8 ..< 8 + headerLength])
        // Header not UTF-8 → InvalidHeader.
        if let offset = firstInvalidUTF8Offset(headerBytes) { throw .headerNotUTF8(offset: offset) }
        // First byte not '{' → InvalidHeaderStart (so no leading whitespace either).
        guard headerBytes.first == UInt8(ascii: "{") else { throw .headerNotObject }

        var reader = SafetensorsJSONReader(headerBytes)
        let (metadata, unsorted) = try readRoot(&reader, limits: limits)
        var entries = unsorted
        try reader.expectOnlyPadding()

        // Reference `Metadata::validate`: sorted by offsets, each tensor starts where the
        // previous one ends (the first at 0) → InvalidOffset. The name breaks ties so the
        // order, and the tensor an error names, do not depend on the header's key order.
        entries.sort {
            ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name)
        }
        var end = 0
        var previous: String?
        for entry in entries {
            guard entry.byteRange.lowerBound == end else {
                throw .offsetsNotContiguous(tensor: entry.name, begin: entry.byteRange.lowerBound, expected: end, previous: previous)
            }
            end = entry.byteRange.upperBound
            previous = entry.name
        }
        // The last tensor must end exactly at the end of the file → MetadataIncompleteBuffer.
        let dataOffset = 8 + headerLength
        let dataLength = file.count - dataOffset
        if end > dataLength, let cut = entries.first(where: { $0.byteRange.upperBound > dataLength }) {
            // Name the first tensor the truncation cuts into: the one a user would miss first.
            throw .dataTruncated(tensor: cut.name, end: cut.byteRange.upperBound, dataLength: dataLength)
        }
        if end < dataLength { throw .trailingData(end: end, dataLength: dataLength) }

        return SafetensorsHeader(
            metadata: metadata,
            tensors: entries,
            dataOffset: dataOffset,
            indexByName: Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
        )
    }
}
