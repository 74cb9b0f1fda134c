import AdapterFormats
import Foundation

/// Request bodies for adapter uploads, built by hand so the tests do not share the server's code:
/// `multipart/form-data` (RFC 7578) and ustar archives with a directory entry and `./` prefixes, the
/// way `tar -C dir -cf - .` writes them.
public enum UploadBody {
    /// One part of a multipart body.
    public struct Part: Sendable {
        public var name: String
        public var filename: String?
        public var contentType: String?
        public var bytes: [UInt8]

        public init(name: String, filename: String? = nil, contentType: String? = "application/octet-stream", bytes: [UInt8]) {
            self.name = name
            self.filename = filename
            self.contentType = contentType
            self.bytes = bytes
        }
    }

    /// The boundary `multipart` uses: bytes that occur in no fixture (RFC 2046 §5.1.1 allows 1–70 of these characters).
    public static let boundary = "----lora-squeeze-test-7c2d9f1e"

    /// A `multipart/form-data` body and its Content-Type.
    public static func multipart(_ parts: [Part], boundary: String = boundary) -> (contentType: String, body: [UInt8]) {
        var body: [UInt8] = []
        for part in parts {
            var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.name)\""
            if let filename = part.filename { head += "; filename=\"\(filename)\"" }
            head += "\r\n"
            if let type = part.contentType { head += "Content-Type: \(type)\r\n" }
            head += "\r\n"
            body += Array(head.utf8) + part.bytes + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        return ("multipart/form-data; boundary=\(boundary)", body)
    }

    /// The two PEFT files as parts named after the files.
    public static func peftMultipart(config: [UInt8], weights: [UInt8]) -> (contentType: String, body: [UInt8]) {
        multipart([Part(name: PEFTFiles.config, contentType: "application/json", bytes: config),
                   Part(name: PEFTFiles.weights, bytes: weights)])
    }

    /// One tar entry: a regular file, or a directory when `bytes` is nil.
    public struct TarEntry: Sendable {
        public var path: String
        public var bytes: [UInt8]?
        public init(path: String, bytes: [UInt8]?) {
            self.path = path
            self.bytes = bytes
        }
        public static func directory(_ path: String) -> TarEntry { TarEntry(path: path, bytes: nil) }
        public static func file(_ path: String, _ bytes: [UInt8]) -> TarEntry { TarEntry(path: path, bytes: bytes) }
    }

    /// A ustar archive of `entries`, ending with the two zero blocks.
    public static func tar(_ entries: [TarEntry]) throws -> [UInt8] {
        var out: [UInt8] = []
        for entry in entries {
            if let bytes = entry.bytes {
                out += try TarWriter.header(name: entry.path, size: bytes.count) + bytes + TarWriter.padding(forSize: bytes.count)
            } else {
                out += try directoryHeader(entry.path)
            }
        }
        return out + TarWriter.trailer
    }

    /// A PEFT directory as `tar -C dir -cf - .` archives it: `./`, a README, then the two files.
    public static func peftTar(config: [UInt8], weights: [UInt8], readme: String = "# fixture adapter\n") throws -> [UInt8] {
        try tar([.directory("./"), .file("./README.md", Array(readme.utf8)),
             .file("./" + PEFTFiles.config, config), .file("./" + PEFTFiles.weights, weights)])
    }

    /// A ustar directory header: TarWriter's file header with type flag '5' and the checksum redone.
    static func directoryHeader(_ path: String) throws -> [UInt8] {
        var h = try TarWriter.header(name: path, size: 0, mode: 0o755)
        h[156] = UInt8(ascii: "5")
        TarFixture.fixChecksum(&h)
        return h
    }
}
