#include "irc_sasl.h"

#include "irc_message.h"

namespace ep::irc {

namespace {

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Overwrites a string's bytes before it is released (a password must not linger in freed memory).
void wipe(std::string* s) {
  volatile char* p = s->data();
  for (size_t i = 0; i < s->size(); ++i) p[i] = 0;
  s->clear();
}

}  // namespace

bool base64_decode(std::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4) return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=') {
        // Padding only in the last quantum, only at its end, at most two.
        if (i + 4 != in.size() || k < 2) return false;
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad) return false;
      v[k] = b64_value(c);
      if (v[k] < 0) return false;
    }
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<char>(n >> 16));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xFF));
    // Non-canonical encodings (bits set in the padding) are refused.
    if ((pad == 1 && (v[2] & 0x3)) || (pad == 2 && (v[1] & 0xF))) return false;
  }
  return true;
}

void SaslPlain::reset() {
  step_ = Step::Idle;
  wipe(&b64_);
  authzid_.clear();
  authcid_.clear();
  forget_password();
}

void SaslPlain::forget_password() { wipe(&password_); }

SaslPlain::Result SaslPlain::feed(std::string_view param) {
  if (param == "*") {
    reset();
    return Result::Aborted;
  }
  if (step_ == Step::Idle) {
    if (!command_is(param, "PLAIN")) return Result::BadMech;
    reset();
    step_ = Step::Data;
    return Result::Continue;
  }
  if (param != "+") {
    if (param.size() > 400 || b64_.size() + param.size() > (kMaxResponse + 2) / 3 * 4) {
      reset();
      return Result::TooLong;
    }
    b64_.append(param);
    if (param.size() == 400) return Result::Continue;  // more follows
  }
  return finish();
}

SaslPlain::Result SaslPlain::finish() {
  std::string raw;
  bool ok = base64_decode(b64_, &raw);
  wipe(&b64_);
  step_ = Step::Idle;
  // authzid NUL authcid NUL password; authcid and password not empty, no further NUL.
  size_t a = raw.find('\0');
  size_t b = a == std::string::npos ? a : raw.find('\0', a + 1);
  if (!ok || b == std::string::npos || raw.find('\0', b + 1) != std::string::npos || b == a + 1 ||
      b + 1 == raw.size()) {
    wipe(&raw);
    return Result::Failed;
  }
  authzid_.assign(raw, 0, a);
  authcid_.assign(raw, a + 1, b - a - 1);
  password_.assign(raw, b + 1, std::string::npos);
  wipe(&raw);
  return Result::Ready;
}

}  // namespace ep::irc
