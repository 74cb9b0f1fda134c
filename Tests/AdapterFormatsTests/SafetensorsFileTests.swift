import Foundation
import Testing
@testable import AdapterFormats

/// Reading tensors: memory-mapped files from disk, in-memory images, and the float decoders.
@Suite("SafetensorsFile")
struct SafetensorsFileTests {
    typealias F = SafetensorsFixture

    // MARK: Opening files

    @Test func mapsAFileFromDisk() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("adapter.safetensors")
        let values: [Float] = [1, -2.5, Float(bitPattern: 0x0003_4000), .infinity]   // includes a binary32 subnormal
        try Data(F.image(F.header(F.entry("w", "F32", [2, 2], 0, 16)), data: F.littleEndian(values))).write(to: url)

        let file = try SafetensorsFile(contentsOf: url)
        #expect(file.tensors.map(\.name) == ["w"])
        #expect(try file.floats(named: "w") == values)
        #expect(Array(file.rawBytes(of: file.tensors[0])) == F.littleEndian(values))
    }

    @Test func rejectsAZeroLengthFile() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("empty.safetensors")
        try Data().write(to: url)
        #expect(throws: SafetensorsError.fileTooShort(byteCount: 0)) { try SafetensorsFile(contentsOf: url) }
    }

    @Test func rejectsAFileShorterThanTheLengthPrefix() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3, 4, 5]).write(to: url)
        #expect(throws: SafetensorsError.fileTooShort(byteCount: 5)) { try SafetensorsFile(contentsOf: url) }
    }

    @Test func namesTheMissingPath() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("missing.safetensors")
        do {
            _ = try SafetensorsFile(contentsOf: url)
            Issue.record("opening a missing file succeeded")
        } catch let error as SafetensorsError {
            guard case .io(let path, let reason) = error else {
                Issue.record("expected .io, got \(error)")
                return
            }
            #expect(path == url.path)
            #expect(reason.contains("No such file"), "strerror(ENOENT): \(reason)")
            #expect(error.description.contains(url.path))
        }
    }

    @Test func rejectsADirectory() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: SafetensorsError.io(path: directory.path, reason: "not a regular file")) {
            try SafetensorsFile(contentsOf: directory)
        }
    }

    @Test func reportsFormatErrorsFromDisk() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bad.safetensors")
        try Data(F.image(F.validHeader, data: [0, 0, 0])).write(to: url)
        #expect(throws: SafetensorsError.dataTruncated(tensor: "a", end: 16, dataLength: 3)) {
            try SafetensorsFile(contentsOf: url)
        }
    }

    @Test func honoursLimitsFromDisk() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("limits.safetensors")
        try Data(F.valid).write(to: url)
        #expect(throws: SafetensorsError.tooManyDimensions(tensor: "a", limit: 1)) {
            try SafetensorsFile(contentsOf: url, limits: .init(maxRank: 1))
        }
    }

    @Test func dataOutlivesTheSourceArray() throws {
        var bytes = F.image(F.header(F.entry("w", "F32", [2], 0, 8)), data: F.littleEndian([Float(7), 8]))
        let file = try SafetensorsFile(bytes: bytes)
        bytes = []
        #expect(bytes.isEmpty)
        #expect(try file.floats(named: "w") == [7, 8])
    }

    // MARK: Decoding

    /// A header whose length is not a multiple of 8 puts every tensor at an odd file offset,
    /// so each decoder must read unaligned memory correctly.
    @Test(arguments: [0, 1, 3, 5, 7])
    func decodesEveryFloatDTypeAtAnyAlignment(padding: Int) throws {
        let f32: [Float] = [1.5, -0.0, .leastNormalMagnitude, -3.25e38]
        let bf16: [UInt16] = [0x3F80, 0xC0A0, 0x7F80, 0x0001]      // 1, -5, Inf, smallest subnormal
        let f16: [UInt16] = [0x3C00, 0xC500, 0xFC00, 0x0001]       // 1, -5, -Inf, 2^-24
        let f64: [Double] = [0.1, -2.25, 1e300, 1e-50]
        var data = F.littleEndian(f32)
        data += F.littleEndian(bf16) + F.littleEndian(f16) + F.littleEndian(f64)
        let header = "{" + [
            F.entry("f32", "F32", [4], 0, 16), F.entry("bf16", "BF16", [4], 16, 24),
            F.entry("f16", "F16", [2, 2], 24, 32), F.entry("f64", "F64", [4], 32, 64),
        ].joined(separator: ",") + "}" + String(repeating: " ", count: padding)
        let file = try SafetensorsFile(bytes: F.image(header, data: data))

        #expect(try file.floats(named: "f32").map(\.bitPattern) == f32.map(\.bitPattern))
        #expect(try file.floats(named: "bf16") == [1, -5, .infinity, Float(bitPattern: 0x0001_0000)])
        #expect(try file.floats(named: "f16") == [1, -5, -.infinity, 0x1p-24])
        // Float(Double) rounds to nearest even; out of range → Inf, below the least subnormal → 0.
        #expect(try file.floats(named: "f64") == [Float(0.1), -2.25, .infinity, 0])
    }

    @Test func decodesEmptyAndScalarTensors() throws {
        let header = F.header(F.entry("empty", "F32", [0, 4], 0, 0), F.entry("scalar", "BF16", [], 0, 2))
        let file = try SafetensorsFile(bytes: F.image(header, data: [0xC0, 0x3F]))   // bf16 0x3FC0 = 1.5
        #expect(try file.floats(named: "empty") == [])
        #expect(file.rawBytes(of: try #require(file.header.entry(named: "empty"))).isEmpty)
        #expect(try file.floats(named: "scalar") == [1.5])
    }

    @Test func throwsForAnUnknownName() throws {
        let file = try SafetensorsFile(bytes: F.valid)
        #expect(throws: SafetensorsError.missingTensor("lora_A.weight")) { try file.floats(named: "lora_A.weight") }
    }

    @Test(arguments: DType.allCases.filter { !$0.isFloatReadable })
    func refusesToReadNonFloatDTypesAsFloats(dtype: DType) throws {
        let size = 2 * dtype.byteWidth
        let file = try SafetensorsFile(bytes: F.image(F.header(F.entry("ids", dtype.rawValue, [2], 0, size)),
                                                      data: [UInt8](repeating: 0, count: size)))
        #expect(throws: SafetensorsError.notFloatReadable(tensor: "ids", dtype: dtype)) { try file.floats(named: "ids") }
        #expect(file.rawBytes(of: file.tensors[0]).count == size, "raw bytes stay readable")
    }
}
