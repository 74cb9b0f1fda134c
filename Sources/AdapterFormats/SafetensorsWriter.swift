import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes safetensors files the reference implementation and `SafetensorsHeader.parse` accept:
/// an 8-byte little-endian header length, the JSON header padded with spaces (0x20) to a
/// multiple of 8 (so the data section starts 8-aligned, as the reference writer does), then
/// the tensors' bytes in the given order with contiguous `data_offsets` from 0.
public enum SafetensorsWriter {

    /// The complete file bytes.
    public static func encode(_ tensors: [TensorToWrite], metadata: [String: String]? = nil) throws(SafetensorsError) -> [UInt8] {
        var file = try prefix(tensors, metadata: metadata)
        file.reserveCapacity(file.count + tensors.reduce(0) { $0 + $1.bytes.count })
        for tensor in tensors { file.append(contentsOf: tensor.bytes) }
        return file
    }

    /// Writes the same bytes as `encode` to `url`, creating or truncating the file, tensor by
    /// tensor (the data is never concatenated in memory). On failure the partial file is
    /// removed and `SafetensorsError.io(path:reason:)` names the path; invalid tensors are
    /// rejected before the file is touched.
    public static func write(_ tensors: [TensorToWrite], metadata: [String: String]? = nil, to url: URL) throws {
        let prefix = try prefix(tensors, metadata: metadata)
        let path = url.path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SafetensorsError.io(path: path, reason: systemError()) }
        do {
            try writeAll(prefix, to: descriptor, path: path)
            for tensor in tensors { try writeAll(tensor.bytes, to: descriptor, path: path) }
        } catch {
            close(descriptor)
            unlink(path)
            throw error
        }
        // close(2) can report a deferred write error (e.g. on network file systems).
        guard close(descriptor) == 0 else {
            let reason = systemError()
            unlink(path)
            throw SafetensorsError.io(path: path, reason: "close: " + reason)
        }
    }

    // MARK: Header

    /// The length prefix and the padded JSON header, after validating every tensor.
    static func prefix(_ tensors: [TensorToWrite], metadata: [String: String]?) throws(SafetensorsError) -> [UInt8] {
        for tensor in tensors {
            if let byteCount = try byteCount(of: tensor.name, shape: tensor.shape, dtype: tensor.dtype),
               tensor.bytes.count != byteCount {
                throw .bytesDoNotMatchShape(tensor: tensor.name, dtype: tensor.dtype, shape: tensor.shape, byteCount: tensor.bytes.count)
            }
        }
        return try header(tensors.map { TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape) }, metadata: metadata)
    }

    /// A tensor's name, dtype and shape, without its data: enough to write a header first and stream
    /// the data after it (tensors in the given order, offsets contiguous from 0).
    public struct TensorSpec: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public init(name: String, dtype: DType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
    }

    /// The length prefix and padded JSON header for tensors whose data will follow in this order.
    public static func header(_ specs: [TensorSpec], metadata: [String: String]?) throws(SafetensorsError) -> [UInt8] {
        var json = "{"
        var separator = ""
        if let metadata {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted().map { quoted($0) + ":" + quoted(metadata[$0]!) }.joined(separator: ",")
            json += "}"
            separator = ","
        }
        var names = Set<String>()
        var offset = 0
        for tensor in specs {
            try validateName(tensor.name)
            guard names.insert(tensor.name).inserted else { throw .duplicateTensorName(tensor.name) }
            guard let byteCount = try byteCount(of: tensor.name, shape: tensor.shape, dtype: tensor.dtype) else {
                throw .sizeOverflow(tensor: tensor.name, dtype: tensor.dtype, shape: tensor.shape)
            }
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            guard case (let end, false) = offset.addingReportingOverflow(byteCount) else {
                throw .sizeOverflow(tensor: tensor.name, dtype: tensor.dtype, shape: tensor.shape)
            }
            json += separator + quoted(tensor.name)
                + ":{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}"
            separator = ","
            offset = end
        }
        json += "}"

        var header = Array(json.utf8)
        header.append(contentsOf: repeatElement(0x20, count: (8 - header.count % 8) % 8))
        var file: [UInt8] = []
        file.reserveCapacity(8 + header.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: header)
        return file
    }

    /// The byte size of `shape` in `dtype`, nil on overflow; throws for a negative dimension.
    static func byteCount(of name: String, shape: [Int], dtype: DType) throws(SafetensorsError) -> Int? {
        for (index, dim) in shape.enumerated() where dim < 0 {
            throw .invalidDimension(tensor: name, index: index, value: String(dim))
        }
        return SafetensorsHeader.byteCount(of: shape, dtype: dtype)
    }

    /// The same name rules the parser applies, plus the one reserved key.
    private static func validateName(_ name: String) throws(SafetensorsError) {
        guard !name.isEmpty else { throw .emptyTensorName }
        guard !name.utf8.contains(0) else { throw .tensorNameContainsNUL(name) }
        guard name != SafetensorsHeader.metadataKey else { throw .reservedTensorName(name) }
    }

    /// `text` as a JSON string (RFC 8259 §7): quote, backslash and control characters escaped.
    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    // MARK: I/O

    /// Writes all of `bytes`, resuming after partial writes and EINTR, in chunks of at most
    /// 1 GiB (Linux transfers at most 0x7FFFF000 bytes per write(2) anyway).
    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(SafetensorsError) {
        let chunk = 1 << 30
        let failure: String? = bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let written = posixWrite(descriptor, buffer.baseAddress! + done, min(chunk, buffer.count - done))
                if written < 0 {
                    if errno == EINTR { continue }
                    return systemError()
                }
                done += written
            }
            return nil
        }
        if let failure { throw .io(path: path, reason: "write: " + failure) }
    }

    private static func systemError() -> String {
        String(cString: strerror(errno))
    }
}

/// write(2); `SafetensorsWriter.write` shadows the unqualified name inside the enum.
private func posixWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, buffer, count)
    #elseif canImport(Musl)
    Musl.write(descriptor, buffer, count)
    #else
    Darwin.write(descriptor, buffer, count)
    #endif
}
