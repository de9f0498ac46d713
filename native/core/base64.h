// Base64 (RFC 4648 §4, the standard alphabet with '=' padding), for the WebSocket handshake: the
// Sec-WebSocket-Key a client sends and the Sec-WebSocket-Accept the server answers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ep::base64 {

std::string encode(const void* data, size_t n);
inline std::string encode(std::string_view s) { return encode(s.data(), s.size()); }

// Strict decoding: length a multiple of 4, only the alphabet, '=' only as one or two final
// characters, and the unused bits before the padding zero (the canonical encoding, so one value has
// one spelling). No whitespace. Returns false (out untouched) on anything else.
bool decode(std::string_view in, std::string* out);

}  // namespace ep::base64
