#include "irc_sasl.h"

#include "base64.h"
#include "irc_message.h"

namespace ep::irc {

namespace {

// Overwrites a string's bytes before it is released (a password must not linger in freed memory).
void wipe(std::string* s) {
  volatile char* p = s->data();
  for (size_t i = 0; i < s->size(); ++i) p[i] = 0;
  s->clear();
}

}  // namespace

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
  bool ok = base64::decode(b64_, &raw);
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
