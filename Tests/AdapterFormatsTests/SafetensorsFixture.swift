import Foundation
@testable import AdapterFormats

/// Builds safetensors file images by hand, so tests can break exactly one rule at a time.
/// (Kept beside the tests that use it; only AdapterFormats tests craft raw images.)
enum SafetensorsFixture {
    /// `8-byte LE length ++ header ++ data`. `declaredLength` overrides the length prefix.
    static func image(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        image(headerBytes: Array(header.utf8), data: data, declaredLength: declaredLength)
    }

    static func image(headerBytes: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        var file: [UInt8] = []
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: headerBytes)
        file.append(contentsOf: data)
        return file
    }

    /// One header member: `"name":{"dtype":…,"shape":[…],"data_offsets":[begin,end]}`.
    static func entry(_ name: String, _ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
    }

    /// A header object from members (and optional raw `__metadata__` JSON).
    static func header(_ members: String..., metadata: String? = nil) -> String {
        "{" + ((metadata.map { ["\"__metadata__\":" + $0] } ?? []) + members).joined(separator: ",") + "}"
    }

    /// The well-formed base most rule tests start from: "a", F32 [2, 2], 16 bytes.
    static let validHeader = header(entry("a", "F32", [2, 2], 0, 16))
    static let validData = [UInt8](repeating: 0, count: 16)
    static var valid: [UInt8] { image(validHeader, data: validData) }

    static func littleEndian(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
    }

    static func littleEndian(_ values: [Double]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
    }

    static func littleEndian(_ values: [UInt16]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.littleEndian, Array.init) }
    }

    /// The error `parse` throws, or nil when it accepts the bytes.
    static func parseError(_ file: [UInt8], limits: SafetensorsLimits = .init()) -> SafetensorsError? {
        do {
            _ = try SafetensorsHeader.parse(file, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    /// A fresh, empty directory under the system temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-tests-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
