import CCrypto

/// The Git LFS pointer that stands in a Git repository for a large file (spec v1), and the Git blob
/// id of that pointer: what a Hugging Face Hub repository's tree lists as a weights file's `oid`,
/// with the file's own SHA-256 and size under `lfs`.
///
/// The service stores no Git objects; it serves every file as if LFS-tracked, so a Hub client sees
/// the same `oid`, `lfs.oid` and `pointerSize` a real repository holding these bytes would show.
public struct GitLFSPointer: Sendable, Equatable {
    /// The file's SHA-256 (the pointer's `oid sha256:…`).
    public let sha256: SHA256Digest
    /// The file's size in bytes.
    public let size: Int64

    public init(sha256: SHA256Digest, size: Int64) {
        self.sha256 = sha256
        self.size = size
    }

    /// The pointer file's text, byte for byte as `git lfs` writes it.
    public var text: String {
        "version https://git-lfs.github.com/spec/v1\noid sha256:\(sha256.hex)\nsize \(size)\n"
    }

    /// The pointer's length in bytes (`pointerSize` in the Hub's listings).
    public var pointerSize: Int { text.utf8.count }

    /// The Git blob id of the pointer: SHA-1 over `blob <length>\0<text>`, 40 lowercase hex characters.
    public func gitBlobID() throws(SHA256Error) -> String {
        try Self.gitBlobID(of: Array(text.utf8))
    }

    /// The Git blob id of `content` (what `git hash-object` prints).
    public static func gitBlobID(of content: [UInt8]) throws(SHA256Error) -> String {
        let object = Array("blob \(content.count)\0".utf8) + content
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = object.withUnsafeBytes { raw in
            EVP_Digest(raw.baseAddress, raw.count, &digest, &length, EVP_sha1(), nil) == 1
        }
        guard ok, length == 20 else { throw .libcrypto(function: "EVP_Digest(sha1)") }
        return Hex.lowercase(digest.prefix(20))
    }
}
