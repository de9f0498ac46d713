// SHA-1 (FIPS 180-4, RFC 3174), only for the WebSocket handshake's Sec-WebSocket-Accept (RFC 6455
// §4.2.2), where the hash is a fixed transform and not a security boundary. Written here so the
// standalone build needs no crypto library for it. Never use it for anything that needs a secure hash.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ep {

class Sha1 {
 public:
  using Digest = std::array<uint8_t, 20>;

  Sha1() { reset(); }
  void reset();
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  Digest finish();  // pads, returns the digest; reset() before reuse

  static Digest of(std::string_view s) {
    Sha1 h;
    h.update(s);
    return h.finish();
  }

 private:
  void block(const uint8_t* p);

  uint32_t h_[5];
  uint8_t buf_[64];
  size_t buf_len_;
  uint64_t total_;  // bytes hashed so far
};

}  // namespace ep
