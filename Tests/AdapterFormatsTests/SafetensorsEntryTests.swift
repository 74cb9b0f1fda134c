import Testing
@testable import AdapterFormats

/// The schema of each tensor entry, its name, and `__metadata__`.
@Suite("Safetensors entries")
struct SafetensorsEntryTests {
    typealias F = SafetensorsFixture

    /// Parses `{"a": <entry>}` followed by `data` and returns the error.
    private func entryError(_ entry: String, data: [UInt8] = F.validData) -> SafetensorsError? {
        F.parseError(F.image("{\"a\":" + entry + "}", data: data))
    }

    // MARK: Shape of the entry

    @Test(arguments: ["[1]", "\"F32\"", "1", "null", "true"])
    func rejectsEntryThatIsNotAnObject(entry: String) {
        #expect(entryError(entry) == .entryNotObject(tensor: "a"))
    }

    @Test(arguments: [
        (#"{"shape":[2,2],"data_offsets":[0,16]}"#, "dtype"),
        (#"{"dtype":"F32","data_offsets":[0,16]}"#, "shape"),
        (#"{"dtype":"F32","shape":[2,2]}"#, "data_offsets"),
        ("{}", "dtype"),
    ])
    func rejectsMissingField(entry: String, field: String) {
        #expect(entryError(entry) == .missingField(tensor: "a", field: field))
    }

    // Stricter than serde (which ignores unknown fields): "offsets", the README's old
    // spelling, is the likely mistake.
    @Test(arguments: ["offsets", "Dtype", "dtype ", "metadata"])
    func rejectsUnexpectedField(field: String) {
        let entry = #"{"dtype":"F32","shape":[2,2],"data_offsets":[0,16],""# + field + #"":[0,16]}"#
        #expect(entryError(entry) == .unexpectedField(tensor: "a", field: field))
    }

    // A repeated key would be silently resolved by a HashMap; here it is an error.
    @Test(arguments: [
        (#"{"dtype":"F32","dtype":"F32","shape":[2,2],"data_offsets":[0,16]}"#, "dtype"),
        (#"{"dtype":"F32","shape":[2,2],"shape":[4],"data_offsets":[0,16]}"#, "shape"),
        (#"{"dtype":"F32","shape":[2,2],"data_offsets":[0,16],"data_offsets":[0,16]}"#, "data_offsets"),
    ])
    func rejectsDuplicateField(entry: String, field: String) {
        #expect(entryError(entry) == .duplicateField(tensor: "a", field: field))
    }

    // MARK: dtype

    @Test(arguments: ["32", "[\"F32\"]", "null", "{}"])
    func rejectsDTypeThatIsNotAString(value: String) {
        let entry = #"{"dtype":"# + value + #","shape":[2,2],"data_offsets":[0,16]}"#
        guard case .fieldType(let tensor, let field, _)? = entryError(entry) else {
            Issue.record("expected fieldType for dtype \(value), got \(String(describing: entryError(entry)))")
            return
        }
        #expect(tensor == "a" && field == "dtype")
    }

    @Test(arguments: ["float32", "f32", "F4", "F8_E8M0", "C64", ""])
    func rejectsUnknownDType(dtype: String) {
        let entry = #"{"dtype":""# + dtype + #"","shape":[2,2],"data_offsets":[0,16]}"#
        #expect(entryError(entry) == .unknownDType(tensor: "a", dtype: dtype))
    }

    @Test(arguments: DType.allCases)
    func acceptsEveryKnownDType(dtype: DType) throws {
        let size = 3 * dtype.byteWidth
        let file = F.image(F.header(F.entry("a", dtype.rawValue, [3], 0, size)), data: [UInt8](repeating: 1, count: size))
        let entry = try #require(try SafetensorsHeader.parse(file).entry(named: "a"))
        #expect(entry.dtype == dtype)
        #expect(entry.byteRange == 0..<size)
    }

    // MARK: shape

    @Test func rejectsShapeThatIsNotAnArray() {
        let entry = #"{"dtype":"F32","shape":"2,2","data_offsets":[0,16]}"#
        guard case .fieldType(let tensor, let field, _)? = entryError(entry) else {
            Issue.record("expected fieldType, got \(String(describing: entryError(entry)))")
            return
        }
        #expect(tensor == "a" && field == "shape")
    }

    // Vec<usize> in the reference: negative numbers, fractions, exponents, and "-0" (read as
    // a float by serde_json) are not dimensions; neither are other JSON types.
    @Test(arguments: [
        ("-1", "-1"), ("2.0", "2.0"), ("1.5", "1.5"), ("2e0", "2e0"), ("-0", "-0"),
        ("9223372036854775808", "9223372036854775808"),    // Int.max + 1
        ("\"2\"", "a string"), ("null", "true, false or null"), ("[2]", "an array"), ("{}", "an object"),
    ])
    func rejectsInvalidDimension(dim: String, reported: String) {
        let entry = #"{"dtype":"F32","shape":[2,"# + dim + #"],"data_offsets":[0,16]}"#
        #expect(entryError(entry) == .invalidDimension(tensor: "a", index: 1, value: reported))
    }

    @Test func acceptsTheLargestIntDimensionWhenTheSizeFits() throws {
        // Int.max elements of a zero-size product: a 0 dimension makes the tensor empty.
        let file = F.image(F.header(F.entry("a", "U8", [0, Int.max], 0, 0)))
        #expect(try SafetensorsHeader.parse(file).tensors.first?.elementCount == 0)
    }

    // Checked multiplication → ValidationOverflow in the reference.
    @Test(arguments: [
        ([1 << 32, 1 << 32], DType.u8),       // element count overflows
        ([1 << 62], DType.f32),               // element count fits, byte size overflows
        ([Int.max, 2], DType.bool),
        ([3, 1 << 62, 0], DType.u8),          // overflows before the 0 is reached, as in the reference
    ])
    func rejectsShapeWhoseSizeOverflows(shape: [Int], dtype: DType) {
        let file = F.image(F.header(F.entry("a", dtype.rawValue, shape, 0, 16)), data: F.validData)
        #expect(F.parseError(file) == .sizeOverflow(tensor: "a", dtype: dtype, shape: shape))
    }

    // MARK: data_offsets

    @Test(arguments: ["[0]", "[]", "[0,16,32]", "[-1,16]", "[0,\"16\"]", "\"0,16\"", "[0.0,16]", "{}", "[0,[16]]", "null"])
    func rejectsMalformedDataOffsets(offsets: String) {
        let entry = #"{"dtype":"F32","shape":[2,2],"data_offsets":"# + offsets + "}"
        #expect(entryError(entry) == .invalidDataOffsets(tensor: "a"))
    }

    // e < s → InvalidOffset in the reference.
    @Test func rejectsDataOffsetsThatEndBeforeTheyBegin() {
        let entry = #"{"dtype":"F32","shape":[2,2],"data_offsets":[16,0]}"#
        #expect(entryError(entry) == .dataOffsetsReversed(tensor: "a", begin: 16, end: 0))
    }

    // (e - s) != element count × width → TensorInvalidInfo in the reference.
    @Test(arguments: [(0, 12), (0, 20), (0, 0)])
    func rejectsByteLengthThatDoesNotMatchTheShape(begin: Int, end: Int) {
        let file = F.image(F.header(F.entry("a", "F32", [2, 2], begin, end)), data: [UInt8](repeating: 0, count: end))
        #expect(F.parseError(file) == .byteLengthMismatch(tensor: "a", begin: begin, end: end, dtype: .f32, shape: [2, 2]))
    }

    // MARK: Names

    @Test func rejectsDuplicateTensorName() {
        let header = F.header(F.entry("a", "F32", [2, 2], 0, 16), F.entry("a", "F32", [2, 2], 16, 32))
        #expect(F.parseError(F.image(header, data: [UInt8](repeating: 0, count: 32))) == .duplicateTensorName("a"))
    }

    @Test func rejectsEmptyTensorName() {
        #expect(F.parseError(F.image(F.header(F.entry("", "F32", [2, 2], 0, 16)), data: F.validData)) == .emptyTensorName)
    }

    @Test(arguments: [#"a\u0000b"#, #"\u0000"#, #"a\u0000"#])
    func rejectsNULInTensorName(escaped: String) {
        let header = F.header(F.entry(escaped, "F32", [2, 2], 0, 16))
        let expected = escaped.replacingOccurrences(of: #"\u0000"#, with: "\u{0}")
        #expect(F.parseError(F.image(header, data: F.validData)) == .tensorNameContainsNUL(expected))
    }

    // MARK: __metadata__ (HashMap<String, String> in the reference)

    @Test func readsMetadata() throws {
        let header = F.header(F.entry("a", "F32", [2, 2], 0, 16), metadata: #"{"format":"pt","empty":"","esc":"a\"b\n"}"#)
        let parsed = try SafetensorsHeader.parse(F.image(header, data: F.validData))
        #expect(parsed.metadata == ["format": "pt", "empty": "", "esc": "a\"b\n"])
        #expect(parsed.tensors.count == 1, "__metadata__ is not a tensor")
    }

    @Test func readsEmptyMetadataAsEmptyNotNil() throws {
        let parsed = try SafetensorsHeader.parse(F.image(F.header(metadata: "{}")))
        #expect(parsed.metadata == [:])
    }

    @Test func metadataMayComeAfterTheTensors() throws {
        let header = "{" + F.entry("a", "F32", [2, 2], 0, 16) + #","__metadata__":{"k":"v"}}"#
        #expect(try SafetensorsHeader.parse(F.image(header, data: F.validData)).metadata == ["k": "v"])
    }

    @Test(arguments: ["\"pt\"", "[]", "null", "1"])
    func rejectsMetadataThatIsNotAnObject(value: String) {
        #expect(F.parseError(F.image(F.header(metadata: value))) == .metadataNotObject)
    }

    @Test(arguments: ["1", "null", "{}", "[\"v\"]", "true"])
    func rejectsMetadataValueThatIsNotAString(value: String) {
        #expect(F.parseError(F.image(F.header(metadata: #"{"ok":"v","k":"# + value + "}"))) == .metadataValueNotString(key: "k"))
    }

    @Test func rejectsDuplicateMetadataKey() {
        #expect(F.parseError(F.image(F.header(metadata: #"{"k":"1","k":"2"}"#))) == .duplicateMetadataKey("k"))
    }

    @Test func rejectsASecondMetadataEntry() {
        let header = #"{"__metadata__":{},"__metadata__":{}}"#
        #expect(F.parseError(F.image(header)) == .duplicateMetadata)
    }
}
