import Testing
@testable import AdapterFormats

/// Where tensors lie in the data section: contiguous from 0, covering it exactly
/// (reference `Metadata::validate` → InvalidOffset, `read_metadata` → MetadataIncompleteBuffer).
@Suite("Safetensors data layout")
struct SafetensorsLayoutTests {
    typealias F = SafetensorsFixture

    private func zeros(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: count) }

    @Test func sortsTensorsByOffsetWhateverTheKeyOrder() throws {
        let header = F.header(
            F.entry("c", "F32", [1], 8, 12), F.entry("a", "F32", [2], 0, 8), F.entry("b", "U8", [3], 12, 15))
        let parsed = try SafetensorsHeader.parse(F.image(header, data: zeros(15)))
        #expect(parsed.tensors.map(\.name) == ["a", "c", "b"])
        #expect(parsed.entry(named: "b")?.byteRange == 12..<15)
    }

    @Test func rejectsFirstTensorNotStartingAtZero() {
        let file = F.image(F.header(F.entry("a", "F32", [2, 2], 4, 20)), data: zeros(20))
        #expect(F.parseError(file) == .offsetsNotContiguous(tensor: "a", begin: 4, expected: 0, previous: nil))
    }

    @Test func rejectsAGapBetweenTensors() {
        let file = F.image(F.header(F.entry("a", "F32", [2, 2], 0, 16), F.entry("b", "F32", [1], 20, 24)), data: zeros(24))
        #expect(F.parseError(file) == .offsetsNotContiguous(tensor: "b", begin: 20, expected: 16, previous: "a"))
    }

    @Test func rejectsOverlappingTensors() {
        let file = F.image(F.header(F.entry("a", "F32", [2, 2], 0, 16), F.entry("b", "F32", [2, 2], 8, 24)), data: zeros(24))
        #expect(F.parseError(file) == .offsetsNotContiguous(tensor: "b", begin: 8, expected: 16, previous: "a"))
    }

    @Test func rejectsTwoTensorsSharingTheSameBytes() {
        // Aliased data is an overlap too; the name orders equal ranges, so "b" is reported.
        let file = F.image(F.header(F.entry("b", "F32", [2, 2], 0, 16), F.entry("a", "F32", [2, 2], 0, 16)), data: zeros(16))
        #expect(F.parseError(file) == .offsetsNotContiguous(tensor: "b", begin: 0, expected: 16, previous: "a"))
    }

    @Test func rejectsDataSectionShorterThanTheLastTensor() {
        let file = F.image(F.validHeader, data: zeros(15))
        #expect(F.parseError(file) == .dataTruncated(tensor: "a", end: 16, dataLength: 15))
    }

    @Test(arguments: [(F.validHeader, 16, 17), ("{}", 0, 1), (F.validHeader, 16, 4096)])
    func rejectsTrailingBytesAfterTheLastTensor(header: String, end: Int, dataLength: Int) {
        let file = F.image(header, data: zeros(dataLength))
        #expect(F.parseError(file) == .trailingData(end: end, dataLength: dataLength))
    }

    @Test func acceptsZeroSizeTensorsAnywhere() throws {
        // Shape [0, 4] is legal: no elements, an empty byte range, even at the same offset as another.
        let header = F.header(
            F.entry("empty.first", "F32", [0, 4], 0, 0),
            F.entry("a", "F32", [2, 2], 0, 16),
            F.entry("empty.middle", "BF16", [4, 0], 16, 16),
            F.entry("b", "U8", [1], 16, 17),
            F.entry("empty.last", "F64", [0], 17, 17))
        let parsed = try SafetensorsHeader.parse(F.image(header, data: zeros(17)))
        #expect(parsed.tensors.map(\.name) == ["empty.first", "a", "empty.middle", "b", "empty.last"])
        let empty = try #require(parsed.entry(named: "empty.middle"))
        #expect(empty.elementCount == 0)
        #expect(empty.byteRange.isEmpty)
        #expect(empty.shape == [4, 0])
    }

    @Test func acceptsAFileWithOnlyZeroSizeTensors() throws {
        let parsed = try SafetensorsHeader.parse(F.image(F.header(F.entry("e", "F32", [0], 0, 0))))
        #expect(parsed.tensors.count == 1)
    }

    @Test func acceptsScalarShape() throws {
        let parsed = try SafetensorsHeader.parse(F.image(F.header(F.entry("s", "F32", [], 0, 4)), data: zeros(4)))
        let scalar = try #require(parsed.entry(named: "s"))
        #expect(scalar.shape == [])
        #expect(scalar.elementCount == 1)
    }

    @Test func acceptsAnEmptyFile() throws {
        let parsed = try SafetensorsHeader.parse(F.image("{}"))
        #expect(parsed.tensors.isEmpty && parsed.metadata == nil && parsed.dataOffset == 10)
    }
}
