import CSSL
import Foundation
import Locking
import Synchronization

/// The server's TLS settings and certificate, on OpenSSL 3: TLS 1.2 and 1.3 only, Mozilla's
/// "intermediate" TLS 1.2 cipher list (TLS 1.3's suites are all strong), ALPN `http/1.1`, session
/// tickets and a server-side session cache, no renegotiation, no compression.
///
/// `reload()` reads the certificate and key again (cert-manager rotates them): connections accepted
/// after it use the new pair; those already open keep theirs (each session holds a reference to the
/// context it began with). A pair that does not load leaves the current one in place.
public final class TLSContext: Sendable {
    /// Mozilla's intermediate configuration (version 5.7) for TLS 1.2. The profile leaves the choice
    /// among these to the client, which knows whether it has AES hardware; so do we.
    public static let cipherList = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// A certificate or key that cannot be used, with OpenSSL's reason.
    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Owns one `SSL_CTX` (freed when the last holder lets go; sessions hold their own reference).
    final class Handle: @unchecked Sendable {
        let context: OpaquePointer
        init(_ context: OpaquePointer) { self.context = context }
        deinit { SSL_CTX_free(context) }
    }

    public let certificatePath: String
    public let keyPath: String
    /// Kernel TLS asked for (`SSL_OP_ENABLE_KTLS`): after each handshake OpenSSL offers the record keys
    /// to the kernel, and where it takes them files go out with `SSL_sendfile` (no copy through user
    /// space). Off by default, as in nginx (`ssl_conf_command Options KTLS`): it needs the kernel's
    /// `tls` module, and a connection it does not take stays on the user-space path unchanged.
    public let kernelTLS: Bool
    private let current: Locked<Handle>
    private let kernelSends = Atomic<Int>(0)

    /// Connections whose handshake ended with the kernel taking their send keys (kernel TLS in use).
    public var kernelTLSConnections: Int { kernelSends.load(ordering: .relaxed) }

    func countKernelTLSConnection() { kernelSends.add(1, ordering: .relaxed) }

    /// Loads the PEM certificate (a chain: the leaf first) and its private key.
    public init(certificatePath: String, keyPath: String, kernelTLS: Bool = false) throws {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.kernelTLS = kernelTLS
        current = Locked(try Self.load(certificatePath: certificatePath, keyPath: keyPath, kernelTLS: kernelTLS))
    }

    /// Reads both files again; on failure throws and keeps serving the previous pair.
    public func reload() throws {
        let fresh = try Self.load(certificatePath: certificatePath, keyPath: keyPath, kernelTLS: kernelTLS)
        current.withLock { $0 = fresh }
    }

    /// Whether the kernel's TLS upper-layer protocol is loaded now (listed in
    /// /proc/sys/net/ipv4/tcp_available_ulp). When it is not, the kernel may still load the module on
    /// the first connection that asks for it, if the module is installed; this is for the start-up log.
    public static var kernelTLSModuleLoaded: Bool {
        guard let list = try? String(contentsOfFile: "/proc/sys/net/ipv4/tcp_available_ulp", encoding: .utf8) else {
            return false
        }
        return list.split(whereSeparator: \.isWhitespace).contains("tls")
    }

    /// A session for an accepted socket, on the current context.
    func session(fd: Int32) throws -> TLSSession {
        let handle = current.withLock { $0 }
        guard let ssl = SSL_new(handle.context) else { throw LoadError(description: "SSL_new: \(Self.errors())") }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            throw LoadError(description: "SSL_set_fd: \(Self.errors())")
        }
        SSL_set_accept_state(ssl)
        return TLSSession(ssl, context: self)
    }

    static func load(certificatePath: String, keyPath: String, kernelTLS: Bool) throws -> Handle {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw LoadError(description: "SSL_CTX_new: \(errors())")
        }
        let handle = Handle(context)
        guard lsq_ctx_min_tls12(context) == 1 else { throw LoadError(description: "TLS 1.2 minimum: \(errors())") }
        lsq_ctx_options(context)
        if kernelTLS { lsq_ctx_enable_ktls(context) }
        lsq_ctx_modes(context)
        lsq_ctx_session_cache(context)
        lsq_ctx_alpn_http11(context)
        guard SSL_CTX_set_cipher_list(context, cipherList) == 1 else {
            throw LoadError(description: "cipher list: \(errors())")
        }
        guard SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
            throw LoadError(description: "certificate \(certificatePath) cannot be used: \(errors())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1 else {
            throw LoadError(description: "private key \(keyPath) cannot be used: \(errors())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw LoadError(description: "private key \(keyPath) does not match certificate \(certificatePath): \(errors())")
        }
        return handle
    }

    /// OpenSSL's queued error reasons, oldest first, and the queue emptied.
    static func errors() -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.isEmpty ? "no reason given" : reasons.joined(separator: "; ")
    }
}
