// libssl for HTTPServer's TLS. OpenSSL spells several settings as macros Swift cannot call
// (SSL_CTX_set_min_proto_version, SSL_CTX_set_mode, the SSL_OP_* bits); these inline wrappers name
// them. The ALPN selection callback is the one piece of logic here: it accepts http/1.1 and
// otherwise lets the handshake go on without ALPN (RFC 7301 §3.2 allows no agreement).
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>

static inline int lsq_ctx_min_tls12(SSL_CTX *ctx) { return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }

static inline void lsq_ctx_modes(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
}

static inline void lsq_ctx_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
}

/// Kernel TLS (opt-in, as in nginx): OpenSSL hands the record keys to the kernel after the handshake
/// when the kernel's `tls` ULP accepts them; otherwise the connection goes on in user space.
static inline void lsq_ctx_enable_ktls(SSL_CTX *ctx) { SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS); }

/// 1 when this connection's sends go through kernel TLS (SSL_sendfile is then possible).
static inline int lsq_ktls_send(SSL *ssl) { return BIO_get_ktls_send(SSL_get_wbio(ssl)) ? 1 : 0; }

static inline void lsq_ctx_session_cache(SSL_CTX *ctx) { SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER); }

static int lsq_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                           const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static inline void lsq_ctx_alpn_http11(SSL_CTX *ctx) { SSL_CTX_set_alpn_select_cb(ctx, lsq_alpn_select, NULL); }
