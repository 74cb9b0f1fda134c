import Foundation
import Testing
@testable import AdapterFormats

/// Writing files, and reading back what was written.
@Suite("SafetensorsWriter")
struct SafetensorsWriterTests {
    typealias F = SafetensorsFixture

    // MARK: Known answers

    /// The reference's own serialization test (huggingface/safetensors `tensor.rs`,
    /// `test_serialization`): "attn.0", F32 [1, 2, 3], values 0...5. Its 64-byte header needs no padding.
    @Test func matchesTheReferenceSerialization() throws {
        let tensor = try TensorToWrite.floats([0, 1, 2, 3, 4, 5], name: "attn.0", shape: [1, 2, 3], dtype: .f32)
        let expectedHeader = #"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#
        let expected = [64, 0, 0, 0, 0, 0, 0, 0] + Array(expectedHeader.utf8)
            + [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]
        #expect(try SafetensorsWriter.encode([tensor]) == expected)
    }

    /// The reference's `test_empty`: no tensors, then metadata {"framework": "pt"}.
    @Test func matchesTheReferenceEmptyFiles() throws {
        #expect(try SafetensorsWriter.encode([]) == [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
        let withMetadata = try SafetensorsWriter.encode([], metadata: ["framework": "pt"])
        #expect(withMetadata == [40, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"__metadata__":{"framework":"pt"}}"#.utf8) + [32, 32, 32, 32, 32])
    }

    @Test(arguments: ["a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh"])
    func padsTheHeaderSoDataStartsEightAligned(name: String) throws {
        let bytes = try SafetensorsWriter.encode([TensorToWrite(name: name, dtype: .u8, shape: [1], bytes: [9])])
        let header = try SafetensorsHeader.parse(bytes)
        #expect(header.dataOffset % 8 == 0)
        #expect(bytes.last == 9)
    }

    // MARK: Round trips

    static let sample: [Float] = [0, -0.0, 1, -1, 0.1, 3.14159, 65504, 65520, 1e-8, 6e-8, -7.5e-5, 1e30, .infinity, -.infinity,
                                  .greatestFiniteMagnitude, .leastNonzeroMagnitude, 0x1.002p0, 0x1.006p0, 0x1.0101p0]

    @Test func roundTripsF32Exactly() throws {
        let values = Self.sample + [.nan, Float(bitPattern: 0x7F80_0001)]
        let file = try SafetensorsFile(bytes: SafetensorsWriter.encode([
            try .floats(values, name: "w", shape: [values.count], dtype: .f32),
        ]))
        #expect(try file.floats(named: "w").map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test(arguments: [DType.f16, .bf16])
    func roundTripsHalfPrecisionToTheRoundedValues(dtype: DType) throws {
        let rounded: (Float) -> Float = dtype == .f16
            ? { FloatConversion.float(f16Bits: FloatConversion.f16Bits($0)) }
            : { FloatConversion.float(bf16Bits: FloatConversion.bf16Bits($0)) }
        let values = Self.sample
        let file = try SafetensorsFile(bytes: SafetensorsWriter.encode([
            try .floats(values, name: "w", shape: [values.count], dtype: dtype),
        ]))
        let read = try file.floats(named: "w")
        #expect(read.map(\.bitPattern) == values.map(rounded).map(\.bitPattern))
        #expect(file.tensors[0].dtype == dtype)
        #expect(file.rawBytes(of: file.tensors[0]).count == 2 * values.count)
        let nan = try SafetensorsFile(bytes: SafetensorsWriter.encode([try .floats([.nan], name: "n", shape: [], dtype: dtype)]))
        #expect(try nan.floats(named: "n")[0].isNaN)
    }

    @Test func roundTripsManyTensorsShapesAndMetadata() throws {
        let metadata = ["format": "pt", "quote\"key": "back\\slash\nnewline\t\u{01}", "unicode": "日本語 😀", "": ""]
        let tensors = [
            try TensorToWrite.floats([1, 2, 3, 4, 5, 6], name: "base_model.model.q_proj.lora_A.weight", shape: [2, 3], dtype: .f32),
            try TensorToWrite.floats([], name: "empty", shape: [0, 4], dtype: .bf16),
            try TensorToWrite.floats([0.5], name: "scalar", shape: [], dtype: .f16),
            TensorToWrite(name: "ids", dtype: .i64, shape: [2], bytes: [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]),
            TensorToWrite(name: "name with \"quotes\", \\ and \u{7F}\u{1F}", dtype: .u8, shape: [1, 1, 1], bytes: [42]),
        ]
        let bytes = try SafetensorsWriter.encode(tensors, metadata: metadata)
        let file = try SafetensorsFile(bytes: bytes)

        #expect(file.header.metadata == metadata)
        #expect(file.tensors.map(\.name) == tensors.map(\.name), "written in order, so sorted by offset in order")
        for tensor in tensors {
            let entry = try #require(file.header.entry(named: tensor.name))
            #expect(entry.dtype == tensor.dtype)
            #expect(entry.shape == tensor.shape)
            #expect(Array(file.rawBytes(of: entry)) == tensor.bytes)
        }
        #expect(try file.floats(named: "scalar") == [0.5])
        #expect(try file.floats(named: "empty") == [])
    }

    @Test func omitsMetadataWhenNil() throws {
        #expect(try SafetensorsHeader.parse(SafetensorsWriter.encode([])).metadata == nil)
        #expect(try SafetensorsHeader.parse(SafetensorsWriter.encode([], metadata: [:])).metadata == [:])
    }

    // MARK: Files

    @Test func writesTheSameBytesToAFile() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("out.safetensors")
        let tensors = [
            try TensorToWrite.floats((0..<1000).map(Float.init), name: "a", shape: [10, 100], dtype: .bf16),
            try TensorToWrite.floats([1, 2], name: "b", shape: [2], dtype: .f32),
        ]
        try Data([1, 2, 3]).write(to: url)        // an existing file is truncated, not appended to
        try SafetensorsWriter.write(tensors, metadata: ["k": "v"], to: url)

        let written = try [UInt8](Data(contentsOf: url))
        #expect(written == (try SafetensorsWriter.encode(tensors, metadata: ["k": "v"])))
        let file = try SafetensorsFile(contentsOf: url)
        #expect(try file.floats(named: "b") == [1, 2])
        #expect(try file.floats(named: "a") == (0..<1000).map { FloatConversion.float(bf16Bits: FloatConversion.bf16Bits(Float($0))) })
    }

    @Test func namesThePathItCannotCreate() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("no-such-dir/out.safetensors")
        do {
            try SafetensorsWriter.write([], to: url)
            Issue.record("writing into a missing directory succeeded")
        } catch let error as SafetensorsError {
            guard case .io(let path, _) = error else {
                Issue.record("expected .io, got \(error)")
                return
            }
            #expect(path == url.path)
        }
    }

    @Test func validatesBeforeTouchingTheFile() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("keep.safetensors")
        try Data([1, 2, 3]).write(to: url)
        #expect(throws: SafetensorsError.emptyTensorName) {
            try SafetensorsWriter.write([TensorToWrite(name: "", dtype: .u8, shape: [], bytes: [0])], to: url)
        }
        #expect(try Data(contentsOf: url) == Data([1, 2, 3]))
    }

    // MARK: Rejected tensors

    @Test(arguments: [
        (TensorToWrite(name: "", dtype: .u8, shape: [1], bytes: [0]), SafetensorsError.emptyTensorName),
        (TensorToWrite(name: "a\u{0}b", dtype: .u8, shape: [1], bytes: [0]), .tensorNameContainsNUL("a\u{0}b")),
        (TensorToWrite(name: "__metadata__", dtype: .u8, shape: [1], bytes: [0]), .reservedTensorName("__metadata__")),
        (TensorToWrite(name: "a", dtype: .f32, shape: [2, 2], bytes: [0, 0, 0, 0]), .bytesDoNotMatchShape(tensor: "a", dtype: .f32, shape: [2, 2], byteCount: 4)),
        (TensorToWrite(name: "a", dtype: .f32, shape: [2, -2], bytes: []), .invalidDimension(tensor: "a", index: 1, value: "-2")),
        (TensorToWrite(name: "a", dtype: .f64, shape: [1 << 61], bytes: []), .sizeOverflow(tensor: "a", dtype: .f64, shape: [1 << 61])),
    ])
    func rejectsInvalidTensors(tensor: TensorToWrite, error: SafetensorsError) {
        #expect(throws: error) { try SafetensorsWriter.encode([tensor]) }
    }

    @Test func rejectsDuplicateNames() {
        let tensor = TensorToWrite(name: "a", dtype: .u8, shape: [], bytes: [0])
        #expect(throws: SafetensorsError.duplicateTensorName("a")) { try SafetensorsWriter.encode([tensor, tensor]) }
    }

    @Test(arguments: DType.allCases.filter { !$0.isFloatWritable })
    func refusesToEncodeFloatsAsOtherDTypes(dtype: DType) {
        #expect(throws: SafetensorsError.notFloatWritable(tensor: "w", dtype: dtype)) {
            try TensorToWrite.floats([1], name: "w", shape: [1], dtype: dtype)
        }
    }

    @Test(arguments: [([2, 2], 3), ([], 0), ([0], 1), ([3], 4)])
    func refusesValueCountThatDoesNotFillTheShape(shape: [Int], count: Int) {
        #expect(throws: SafetensorsError.valueCountMismatch(tensor: "w", shape: shape, count: count)) {
            try TensorToWrite.floats([Float](repeating: 1, count: count), name: "w", shape: shape, dtype: .f32)
        }
    }
}
