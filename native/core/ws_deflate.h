// permessage-deflate (RFC 7692) without context takeover, on streams shared by every connection of
// an engine: one deflater and one inflater per Server, reset before each message (deflateReset,
// inflateReset), so no WebSocket connection holds any zlib state. No context takeover both ways is
// what makes that valid: the server announces server_no_context_takeover (each message it sends
// decompresses alone, so a compressed frame is the same bytes for every recipient and is built once
// per fan-out) and client_no_context_takeover (each client message inflates alone, so one inflater
// serves every connection, a message at a time).
//
// Raw deflate (no zlib header), window 15 bits both ways; a message is compressed with Z_SYNC_FLUSH
// and its trailing 00 00 FF FF removed (§7.2.1); a received one gets them back before inflating
// (§7.2.2). The streams are created on first use (none while no client negotiated deflate).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ep::ws {

class Deflate {
 public:
  Deflate();
  ~Deflate();
  Deflate(const Deflate&) = delete;
  Deflate& operator=(const Deflate&) = delete;

  // Replaces *out with `in` compressed alone (no context from earlier messages), the trailing
  // 00 00 FF FF removed. False when zlib fails (out of memory): the caller sends `in` uncompressed.
  bool compress(std::string_view in, std::string* out);

  enum class Inflated { Ok, TooBig, Bad };
  // Inflates one compressed message (its frames' payloads joined) into *out, which stays valid until
  // the next call. TooBig as soon as the output would pass `max` bytes (a zip bomb costs at most
  // max + a chunk of work); Bad for data that is not raw deflate (or zlib running out of memory).
  Inflated inflate(std::string_view in, size_t max, std::string_view* out);

  // Bytes zlib allocated for the two streams (0 before first use).
  size_t zlib_bytes() const;

 private:
  struct Z;
  std::unique_ptr<Z> z_;
};

// The server's answer to Sec-WebSocket-Extensions offers (RFC 7692 §5, §7.1): the first
// permessage-deflate offer whose parameters are valid and can be met. Met: server_max_window_bits
// absent or 15 (the shared deflater uses 15 bits; a smaller one is declined, §7.1.2.1), any valid
// client_max_window_bits (the inflater takes any window up to 15; not limited in the answer),
// server_no_context_takeover and client_no_context_takeover. A parameter that is unknown, repeated,
// or has a bad value declines its offer; the next is tried. Empty when none is accepted. `headers`
// are the values of every Sec-WebSocket-Extensions header, comma-joined.
std::string negotiate_deflate(std::string_view headers);

}  // namespace ep::ws
