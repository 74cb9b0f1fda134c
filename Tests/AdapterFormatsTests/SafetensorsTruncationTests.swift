import Foundation
import Testing
@testable import AdapterFormats

/// Damaged files: every prefix of a valid file, and every single-byte substitution in its
/// header, must end in a typed error (or a valid parse), never a crash.
@Suite("Safetensors damaged files")
struct SafetensorsTruncationTests {
    typealias F = SafetensorsFixture

    static let sample: [UInt8] = {
        let tensors = [
            try! TensorToWrite.floats([1, 2, 3, 4], name: "lora_A.weight", shape: [2, 2], dtype: .f32),
            try! TensorToWrite.floats([0.5, -0.5], name: "lora_B.weight", shape: [2, 1], dtype: .bf16),
            try! TensorToWrite.floats([], name: "empty", shape: [0], dtype: .f16),
        ]
        return try! SafetensorsWriter.encode(tensors, metadata: ["format": "pt"])
    }()

    @Test func everyPrefixIsRejectedAccordingToWhereItEnds() throws {
        let file = Self.sample
        let dataOffset = try SafetensorsHeader.parse(file).dataOffset
        for length in 0..<file.count {
            let error = F.parseError(Array(file.prefix(length)))
            switch length {
            case ..<8:
                #expect(error == .fileTooShort(byteCount: length))
            case ..<dataOffset:
                #expect(error == .headerPastEndOfFile(length: UInt64(dataOffset - 8), fileLength: length))
            default:
                // The first tensor the cut reaches: lora_A holds data bytes 0..<16, lora_B 16..<20
                // (the empty tensor after them, at 20..<20, is never the one named).
                let dataLength = length - dataOffset
                let expected = dataLength < 16
                    ? SafetensorsError.dataTruncated(tensor: "lora_A.weight", end: 16, dataLength: dataLength)
                    : .dataTruncated(tensor: "lora_B.weight", end: 20, dataLength: dataLength)
                #expect(error == expected)
            }
        }
        #expect(F.parseError(file) == nil)
    }

    @Test func everyPrefixIsRejectedFromDisk() throws {
        let directory = try F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("prefix.safetensors")
        for length in 0..<Self.sample.count {
            try Data(Self.sample.prefix(length)).write(to: url)
            #expect(throws: SafetensorsError.self) { try SafetensorsFile(contentsOf: url) }
        }
    }

    /// The header parsed one byte position at a time with every byte value in place: whatever
    /// the outcome, it is a value or a `SafetensorsError`, and an accepted file's tensors stay
    /// inside the data section.
    @Test func everySingleByteSubstitutionInTheHeaderIsHandled() throws {
        let file = Self.sample
        let dataOffset = try SafetensorsHeader.parse(file).dataOffset
        var accepted = 0
        for position in 0..<dataOffset {
            var mutated = file
            for value in UInt8.min...UInt8.max where value != file[position] {
                mutated[position] = value
                if let header = try? SafetensorsHeader.parse(mutated) {
                    accepted += 1
                    for entry in header.tensors {
                        #expect(entry.byteRange.upperBound <= mutated.count - header.dataOffset)
                    }
                }
            }
        }
        // Some substitutions are harmless (a letter in a name or a metadata value), most are not.
        #expect(accepted > 0)
        #expect(accepted < dataOffset * 255 / 2)
    }

    /// All 256 byte values as the second character of a tensor name: only what JSON and
    /// UTF-8 allow unescaped in a string is accepted.
    @Test func everyByteValueInATensorName() {
        for value in UInt8.min...UInt8.max {
            let headerBytes = Array(#"{"a"#.utf8) + [value] + Array(#"":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}"#.utf8)
            let error = F.parseError(F.image(headerBytes: headerBytes, data: [0]))
            switch value {
            case 0x00..<0x20:
                #expect(error == .headerNotJSON(offset: 3, reason: "unescaped control character byte 0x\(hex(value)) in a string"))
            case UInt8(ascii: "\""):
                // The name ends early ("a"), and the next byte is not ':'.
                guard case .headerNotJSON(offset: 4, _)? = error else {
                    Issue.record("byte 0x22: \(String(describing: error))")
                    continue
                }
            case UInt8(ascii: "\\"):
                // Backslash escapes the closing quote: `\"` then `:` ... the string runs on.
                guard case .headerNotJSON? = error else {
                    Issue.record("byte 0x5C: \(String(describing: error))")
                    continue
                }
            case 0xC2...0xF4:
                // A valid lead byte, but the closing quote that follows cannot continue it.
                #expect(error == .headerNotUTF8(offset: 4))
            case 0x80...0xFF:
                // A continuation byte, or a byte that never appears in UTF-8.
                #expect(error == .headerNotUTF8(offset: 3))
            default:
                #expect(error == nil, "byte 0x\(hex(value)): \(String(describing: error))")
            }
        }
    }

    private func hex(_ value: UInt8) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return digits.count == 1 ? "0" + digits : digits
    }
}
