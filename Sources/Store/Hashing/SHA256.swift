import CCrypto
import Foundation

/// A streaming SHA-256 hasher over OpenSSL libcrypto's EVP interface.
///
/// Feed bytes with `update` as they arrive, then `finalize()` once. Noncopyable because it owns an
/// `EVP_MD_CTX`: a copy would share (and free twice) the C context.
public struct SHA256: ~Copyable {
    private let context: OpaquePointer

    /// A hasher with nothing fed yet.
    public init() throws(SHA256Error) {
        guard let context = EVP_MD_CTX_new() else { throw .libcrypto(function: "EVP_MD_CTX_new") }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            EVP_MD_CTX_free(context)
            throw .libcrypto(function: "EVP_DigestInit_ex")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes` to the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) throws(SHA256Error) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard EVP_DigestUpdate(context, base, bytes.count) == 1 else { throw .libcrypto(function: "EVP_DigestUpdate") }
    }

    /// Adds `bytes` to the message.
    public mutating func update(_ bytes: some ContiguousBytes) throws(SHA256Error) {
        let result: Result<Void, SHA256Error> = bytes.withUnsafeBytes { raw in
            Result { () throws(SHA256Error) in try update(raw) }
        }
        try result.get()
    }

    /// The digest of everything fed so far. Consumes the hasher.
    public consuming func finalize() throws(SHA256Error) -> SHA256Digest {
        var raw = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &raw, &length) == 1, Int(length) == SHA256Digest.hexLength / 2 else {
            throw .libcrypto(function: "EVP_DigestFinal_ex")
        }
        return SHA256Digest(rawBytes: raw.prefix(Int(length)))
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: some ContiguousBytes) throws(SHA256Error) -> SHA256Digest {
        var hasher = try SHA256()
        try hasher.update(bytes)
        return try hasher.finalize()
    }
}

/// A libcrypto call that reported failure (in practice: out of memory, or a broken OpenSSL install).
public enum SHA256Error: Error, Equatable, CustomStringConvertible {
    case libcrypto(function: String)

    public var description: String {
        switch self {
        case .libcrypto(let function): "SHA-256: libcrypto's \(function) failed"
        }
    }
}
