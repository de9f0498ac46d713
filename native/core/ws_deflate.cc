#include "ws_deflate.h"

#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "http_request.h"

namespace ep::ws {

namespace {

constexpr int kWindowBits = 15;
// The deflater's hash table: 2^(4+7) entries. deflateReset clears it before every message, so a
// small one keeps a reset cheap (a chat line compresses the same: measured in docs/websocket.md).
constexpr int kMemLevel = 4;
constexpr char kTail[4] = {0x00, 0x00, static_cast<char>(0xFF), static_cast<char>(0xFF)};

// zlib's allocations go through these, counted, so the docs' memory figure is measured.
struct Counter {
  size_t bytes = 0;
};
voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  size_t n = static_cast<size_t>(items) * size;
  auto* p = static_cast<size_t*>(std::malloc(n + sizeof(size_t) * 2));
  if (!p) return nullptr;
  p[0] = n;
  static_cast<Counter*>(opaque)->bytes += n;
  return p + 2;
}
void z_free(voidpf opaque, voidpf address) {
  if (!address) return;
  auto* p = static_cast<size_t*>(address) - 2;
  static_cast<Counter*>(opaque)->bytes -= p[0];
  std::free(p);
}

}  // namespace

struct Deflate::Z {
  Counter count;
  z_stream def{};
  z_stream inf{};
  bool def_ok = false, inf_ok = false;
  std::string out;  // the inflated message
  std::string in;   // a compressed message with its tail put back
  ~Z() {
    if (def_ok) deflateEnd(&def);
    if (inf_ok) inflateEnd(&inf);
  }
};

Deflate::Deflate() = default;
Deflate::~Deflate() = default;

size_t Deflate::zlib_bytes() const { return z_ ? z_->count.bytes : 0; }

bool Deflate::compress(std::string_view in, std::string* out) {
  if (!z_) z_ = std::make_unique<Z>();
  Z& z = *z_;
  if (!z.def_ok) {
    z.def.zalloc = z_alloc;
    z.def.zfree = z_free;
    z.def.opaque = &z.count;
    if (deflateInit2(&z.def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -kWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) != Z_OK)
      return false;
    z.def_ok = true;
  } else if (deflateReset(&z.def) != Z_OK) {
    return false;
  }
  out->resize(deflateBound(&z.def, static_cast<uLong>(in.size())) + 16);
  z.def.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.def.avail_in = static_cast<uInt>(in.size());
  z.def.next_out = reinterpret_cast<Bytef*>(&(*out)[0]);
  z.def.avail_out = static_cast<uInt>(out->size());
  int rc = deflate(&z.def, Z_SYNC_FLUSH);
  if (rc != Z_OK || z.def.avail_in != 0 || z.def.avail_out == 0) return false;
  size_t n = out->size() - z.def.avail_out;
  if (n < 4 || std::memcmp(out->data() + n - 4, kTail, 4) != 0) return false;
  out->resize(n - 4);
  return true;
}

Deflate::Inflated Deflate::inflate(std::string_view in, size_t max, std::string_view* out) {
  if (!z_) z_ = std::make_unique<Z>();
  Z& z = *z_;
  if (!z.inf_ok) {
    z.inf.zalloc = z_alloc;
    z.inf.zfree = z_free;
    z.inf.opaque = &z.count;
    if (inflateInit2(&z.inf, -kWindowBits) != Z_OK) return Inflated::Bad;
    z.inf_ok = true;
  } else if (inflateReset(&z.inf) != Z_OK) {
    return Inflated::Bad;
  }
  z.in.assign(in.data(), in.size());
  z.in.append(kTail, 4);
  // One byte more than allowed: output that fills it is too big.
  if (z.out.size() < max + 1) z.out.resize(max + 1);
  z.inf.next_in = reinterpret_cast<Bytef*>(&z.in[0]);
  z.inf.avail_in = static_cast<uInt>(z.in.size());
  z.inf.next_out = reinterpret_cast<Bytef*>(&z.out[0]);
  z.inf.avail_out = static_cast<uInt>(max + 1);
  for (;;) {
    int rc = ::inflate(&z.inf, Z_SYNC_FLUSH);
    size_t got = max + 1 - z.inf.avail_out;
    if (got > max) return Inflated::TooBig;
    if (rc == Z_STREAM_END || (rc == Z_OK && z.inf.avail_in == 0) || (rc == Z_BUF_ERROR && z.inf.avail_in == 0)) {
      // Z_STREAM_END: the client ended the deflate stream (BFINAL) itself; the tail we appended is
      // not part of it (§7.2.3.1 allows that). Input left over after the final block is refused.
      if (rc == Z_STREAM_END && z.inf.avail_in > 0 &&
          !(z.inf.avail_in == 4 && std::memcmp(z.inf.next_in, kTail, 4) == 0))
        return Inflated::Bad;
      *out = std::string_view(z.out.data(), got);
      return Inflated::Ok;
    }
    if (rc != Z_OK) return Inflated::Bad;
  }
}

namespace {

bool tchar_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!http::is_tchar(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Window bits: "8" to "15", nothing else (no sign, no leading zero).
bool window_bits(std::string_view v, int* bits) {
  if (v.empty() || v.size() > 2 || v[0] == '0') return false;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n < 8 || n > 15) return false;
  *bits = n;
  return true;
}

// Splits s at top-level occurrences of sep (outside quoted-strings). False on an unterminated quote.
bool split(std::string_view s, char sep, std::vector<std::string_view>* parts) {
  bool quoted = false, escaped = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') quoted = false;
      continue;
    }
    if (c == '"') quoted = true;
    else if (c == sep) {
      parts->push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  if (quoted) return false;
  parts->push_back(s.substr(start));
  return true;
}

// A parameter value: a token, or a quoted-string whose unescaped content is a token (RFC 7692 §7.1).
bool param_value(std::string_view v, std::string* out) {
  out->clear();
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    v = v.substr(1, v.size() - 2);
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\') {
        if (++i == v.size()) return false;
      }
      out->push_back(v[i]);
    }
  } else {
    out->assign(v.data(), v.size());
  }
  return tchar_token(*out);
}

// One offer's parameters (after "permessage-deflate"): whether the server accepts it, and then
// whether the answer must name server_max_window_bits=15.
bool acceptable(const std::vector<std::string_view>& params, bool* name_server_bits) {
  bool seen_snct = false, seen_cnct = false, seen_smwb = false, seen_cmwb = false;
  std::string value;
  *name_server_bits = false;
  for (size_t i = 1; i < params.size(); ++i) {
    std::string_view p = trim(params[i]);
    size_t eq = p.find('=');
    std::string_view name = trim(p.substr(0, eq));
    bool has_value = eq != std::string_view::npos;
    if (has_value && !param_value(trim(p.substr(eq + 1)), &value)) return false;
    auto once = [](bool& seen) { return !std::exchange(seen, true); };
    int bits = 0;
    if (http::iequals(name, "server_no_context_takeover")) {
      if (has_value || !once(seen_snct)) return false;
    } else if (http::iequals(name, "client_no_context_takeover")) {
      if (has_value || !once(seen_cnct)) return false;
    } else if (http::iequals(name, "server_max_window_bits")) {
      if (!has_value || !once(seen_smwb) || !window_bits(value, &bits)) return false;
      if (bits < kWindowBits) return false;  // the shared deflater's window is 15 bits
      *name_server_bits = true;
    } else if (http::iequals(name, "client_max_window_bits")) {
      if (!once(seen_cmwb) || (has_value && !window_bits(value, &bits))) return false;
    } else {
      return false;  // unknown parameter
    }
  }
  return true;
}

}  // namespace

std::string negotiate_deflate(std::string_view headers) {
  std::vector<std::string_view> offers;
  if (!split(headers, ',', &offers)) return {};
  for (std::string_view offer : offers) {
    std::vector<std::string_view> params;
    if (!split(offer, ';', &params)) continue;
    if (!http::iequals(trim(params[0]), "permessage-deflate")) continue;
    bool name_server_bits = false;
    if (!acceptable(params, &name_server_bits)) continue;
    std::string r = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    if (name_server_bits) r += "; server_max_window_bits=15";
    return r;
  }
  return {};
}

}  // namespace ep::ws
