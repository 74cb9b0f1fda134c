import CSSL
#if canImport(Glibc)
import Glibc
#endif

/// One connection's TLS state: OpenSSL's `SSL` over the non-blocking socket, its calls mapped onto
/// `IOResult` (want-read and want-write are `.wouldBlock`; the connection waits for the event that
/// `wantsWrite` names). Used only on its connection's queue. OpenSSL's error queue is per thread and
/// a connection's queue runs on whichever thread submitted to it, so every call starts with it empty.
final class TLSSession {
    private let ssl: OpaquePointer
    private(set) var handshakeDone = false
    /// The last call wanted the socket writable (not readable) before it can go on.
    private(set) var wantsWrite = false
    /// Bytes of one TLS record's worth of a file, read with pread and handed to SSL_write.
    static let fileChunk = 16 * 1024
    /// The kernel took this connection's send keys (kernel TLS; see `TLSContext.kernelTLS`): files
    /// go out with `SSL_sendfile`. Known once the handshake is done.
    private(set) var kernelSend = false

    /// Where a connection on kernel TLS is counted.
    private let context: TLSContext

    init(_ ssl: OpaquePointer, context: TLSContext) {
        self.ssl = ssl
        self.context = context
    }

    deinit { SSL_free(ssl) }

    enum Step: Equatable {
        case done
        case wouldBlock
        case failed(String)
    }

    /// Advances the server handshake.
    func handshake() -> Step {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            handshakeDone = true
            wantsWrite = false
            kernelSend = lsq_ktls_send(ssl) == 1
            if kernelSend { context.countKernelTLSConnection() }
            return .done
        }
        if waits(SSL_get_error(ssl, rc)) { return .wouldBlock }
        return .failed(TLSContext.errors())
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        return result(n)
    }

    /// Whether the next byte of application data has arrived, without consuming it.
    func peek() -> IOResult {
        ERR_clear_error()
        var byte: UInt8 = 0
        let n = SSL_peek(ssl, &byte, 1)
        return result(n)
    }

    func write(_ buffer: UnsafeRawBufferPointer) -> IOResult {
        guard !buffer.isEmpty else { return .bytes(0) }
        ERR_clear_error()
        let n = SSL_write(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        return result(n)
    }

    /// Up to `count` bytes of `file` from `offset`: with kernel TLS, `SSL_sendfile`; otherwise
    /// through the record layer: pread into a bounded buffer, then SSL_write (partial writes allowed; a retry after `.wouldBlock` rereads the same
    /// bytes from the same offset, which OpenSSL's moving-buffer mode accepts).
    func sendFile(_ file: Int32, offset: Int, count: Int) -> IOResult {
        if kernelSend {
            // The kernel encrypts as it sends (sendfile(2) underneath): no copy through user space.
            ERR_clear_error()
            let n = SSL_sendfile(ssl, file, off_t(offset), min(count, Self.kernelSendChunk), 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .endOfFile }
            if waits(SSL_get_error(ssl, Int32(clamping: n))) { return .wouldBlock }
            return .failed(errno == 0 ? EIO : errno)
        }
        return withUnsafeTemporaryAllocation(byteCount: Self.fileChunk, alignment: 16) { buffer in
            let n = pread(file, buffer.baseAddress, min(count, buffer.count), off_t(offset))
            if n == 0 { return .endOfFile }
            if n < 0 { return .failed(errno) }
            return write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
    }

    /// The most one `SSL_sendfile` call is asked to send (as plain sendfile is capped per call).
    static let kernelSendChunk = 1 << 30

    /// Decrypted bytes (or whole records) OpenSSL holds that the socket will not announce again.
    var hasBufferedInput: Bool { SSL_pending(ssl) > 0 || SSL_has_pending(ssl) == 1 }

    /// Sends close_notify (best effort: a non-blocking socket may not take it now).
    func shutdown() {
        guard handshakeDone else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// Whether OpenSSL's `code` asks to wait for the socket; records which way (`wantsWrite`).
    private func waits(_ code: Int32) -> Bool {
        switch code {
        case SSL_ERROR_WANT_READ: wantsWrite = false
        case SSL_ERROR_WANT_WRITE: wantsWrite = true
        default: return false
        }
        return true
    }

    private func result(_ n: Int32) -> IOResult {
        if n > 0 {
            wantsWrite = false
            return .bytes(Int(n))
        }
        let code = SSL_get_error(ssl, n)
        if waits(code) { return .wouldBlock }
        switch code {
        case SSL_ERROR_ZERO_RETURN:
            return .endOfFile
        case SSL_ERROR_SYSCALL where errno == 0:
            return .endOfFile   // EOF without close_notify (SSL_OP_IGNORE_UNEXPECTED_EOF makes this rare)
        case SSL_ERROR_SYSCALL:
            let e = errno
            ERR_clear_error()
            return .failed(e)
        default:
            ERR_clear_error()
            return .failed(EPROTO)
        }
    }
}
