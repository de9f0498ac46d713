// A server TLS context: one certificate chain and key (PEM files), the protocol policy every TLS
// listener shares, built once and shared by every connection it accepts (docs/architecture.md, "TLS
// transport"). No OpenSSL header here: the engine's other files include this one, and the addon
// compiles against the OpenSSL that Node exports while epchatd links the system's libssl.
//
// Policy: TLS 1.2 minimum; TLS 1.3 with OpenSSL's default suites; TLS 1.2 with ECDHE + AEAD suites
// only; no compression; no renegotiation; stateless session tickets (one per handshake) and no
// server-side session cache, so a resumed client costs no server memory between connections; SNI
// and ALPN accepted and ignored (one certificate whatever the name; no protocol selected, no alert).
//
// Reload (SIGHUP) = load a new context and swap the listener's shared_ptr. A connection's SSL holds
// its own reference to the SSL_CTX it was made from (SSL_new up-refs it), so existing connections
// keep the old certificate until they close; no callback of the context points back into this
// object, so dropping the last shared_ptr while old connections live is safe. A failed load leaves
// the caller's current context in place. Tickets issued under the old context are not accepted by
// the new one (its ticket keys are new): those clients do one full handshake.
#pragma once
#include <memory>
#include <string>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace ep {

struct TlsConfig {
  std::string cert_file;  // PEM: the server certificate first, then any intermediates
  std::string key_file;   // PEM: the private key, unencrypted
  // SSL_MODE_RELEASE_BUFFERS: OpenSSL frees a connection's record buffers (about 34 KiB) while idle.
  // Off only to measure what it saves (native/test/tls_unit.cc, docs/performance.md).
  bool release_buffers = true;
};

enum class TlsLoadError {
  None,
  CertFile,     // the chain file cannot be read or holds no PEM certificate
  KeyFile,      // the key file cannot be read, is not a PEM key, or is encrypted
  KeyMismatch,  // the key is not the certificate's
  Setup,        // OpenSSL refused the policy (out of memory, or a library without these suites)
};

struct TlsLoadResult {
  TlsLoadError code = TlsLoadError::None;
  std::string message;  // one sentence naming the file and OpenSSL's reason; empty when None
  bool ok() const { return code == TlsLoadError::None; }
};

class TlsContext {
 public:
  // Builds a context from cfg. On failure returns nullptr and fills *err; never throws.
  static std::shared_ptr<const TlsContext> load(const TlsConfig& cfg, TlsLoadResult* err);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  ssl_ctx_st* native() const { return ctx_; }
  const TlsConfig& config() const { return cfg_; }

 private:
  TlsContext(ssl_ctx_st* ctx, TlsConfig cfg) : ctx_(ctx), cfg_(std::move(cfg)) {}
  ssl_ctx_st* ctx_;
  TlsConfig cfg_;
};

// Every error OpenSSL queued on this thread, as "reason; reason" (empty if none); clears the queue.
std::string tls_drain_errors();

}  // namespace ep
