import Testing
@testable import AdapterFormats

/// Messages name the thing at fault and the rule it broke.
@Suite("SafetensorsError messages")
struct SafetensorsErrorTests {
    typealias F = SafetensorsFixture

    @Test func byteLengthMismatchReadsAsTheBriefExample() {
        let name = "base_model.model.x.lora_A.weight"
        let file = F.image(F.header(F.entry(name, "F32", [2, 2], 0, 12)), data: [UInt8](repeating: 0, count: 12))
        let error = F.parseError(file)
        #expect(error?.description == #"tensor "base_model.model.x.lora_A.weight": data_offsets [0, 12] hold 12 bytes but F32 shape [2, 2] needs 16"#)
    }

    /// Every error that concerns one tensor quotes its name; NUL and newlines stay visible.
    static let tensorErrors: [SafetensorsError] = [
        .tensorNameContainsNUL("q\u{0}k"), .duplicateTensorName("q\u{0}k"), .entryNotObject(tensor: "q\u{0}k"),
        .missingField(tensor: "q\u{0}k", field: "dtype"), .unexpectedField(tensor: "q\u{0}k", field: "offsets"),
        .duplicateField(tensor: "q\u{0}k", field: "shape"), .fieldType(tensor: "q\u{0}k", field: "shape", expected: "an array"),
        .unknownDType(tensor: "q\u{0}k", dtype: "float32"), .invalidDimension(tensor: "q\u{0}k", index: 0, value: "-1"),
        .tooManyDimensions(tensor: "q\u{0}k", limit: 8), .sizeOverflow(tensor: "q\u{0}k", dtype: .f32, shape: [1 << 62]),
        .invalidDataOffsets(tensor: "q\u{0}k"), .dataOffsetsReversed(tensor: "q\u{0}k", begin: 4, end: 0),
        .byteLengthMismatch(tensor: "q\u{0}k", begin: 0, end: 2, dtype: .bf16, shape: [2]),
        .offsetsNotContiguous(tensor: "q\u{0}k", begin: 8, expected: 4, previous: "p"),
        .offsetsNotContiguous(tensor: "q\u{0}k", begin: 8, expected: 0, previous: nil),
        .dataTruncated(tensor: "q\u{0}k", end: 16, dataLength: 3), .missingTensor("q\u{0}k"),
        .notFloatReadable(tensor: "q\u{0}k", dtype: .i32), .notFloatWritable(tensor: "q\u{0}k", dtype: .f64),
        .valueCountMismatch(tensor: "q\u{0}k", shape: [2], count: 3),
        .bytesDoNotMatchShape(tensor: "q\u{0}k", dtype: .f32, shape: [2], byteCount: 3), .reservedTensorName("q\u{0}k"),
    ]

    @Test(arguments: tensorErrors)
    func namesTheTensor(error: SafetensorsError) {
        #expect(error.description.contains(#""q\0k""#), "\(error.description)")
    }

    @Test(arguments: [
        (SafetensorsError.fileTooShort(byteCount: 3), "3 bytes"),
        (.headerTooLarge(length: 200_000_000, limit: 100_000_000), "limit of 100000000 bytes"),
        (.headerPastEndOfFile(length: 100, fileLength: 28), "8 + 100 > 28"),
        (.headerNotUTF8(offset: 5), "offset 5"),
        (.headerNotObject, "'{'"),
        (.headerNotJSON(offset: 7, reason: "expected ':' after an object key"), "offset 7: expected ':'"),
        (.headerTrailingBytes(offset: 9), "only spaces (0x20)"),
        (.tooManyTensors(limit: 3), "more than 3 tensors"),
        (.metadataNotObject, "__metadata__"),
        (.metadataValueNotString(key: "framework"), #""framework""#),
        (.duplicateMetadataKey("framework"), #""framework""#),
        (.duplicateMetadata, "__metadata__"),
        (.trailingData(end: 16, dataLength: 20), "4 trailing bytes"),
        (.io(path: "/tmp/x.safetensors", reason: "No such file or directory"), "/tmp/x.safetensors: No such file"),
        (.offsetsNotContiguous(tensor: "b", begin: 20, expected: 16, previous: "a"), "gap of 4 bytes"),
        (.offsetsNotContiguous(tensor: "b", begin: 8, expected: 16, previous: "a"), #"overlapping tensor "a""#),
        (.offsetsNotContiguous(tensor: "a", begin: 4, expected: 0, previous: nil), "must start at 0"),
        (.unknownDType(tensor: "a", dtype: "float32"), "known: BOOL, U8"),
    ])
    func statesTheRule(error: SafetensorsError, fragment: String) {
        #expect(error.description.contains(fragment), "\(error.description)")
    }
}
