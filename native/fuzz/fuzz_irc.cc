// fuzz_irc: the IRC message layer (native/core/irc_message.h) on arbitrary client bytes.
//
// Input: 1 byte (a length for utf8_prefix), then lines separated by '\n', each parsed as one message.
// Invariants:
//   - parse() never reads outside the line: every view it returns lies inside it.
//   - An accepted message has a valid command, at most 15 parameters, every parameter but a trailing
//     one a valid middle, tag keys in the grammar, and a body within 510 bytes.
//   - Writing an accepted message back with Writer and parsing that gives the same source, command,
//     parameters and (unescaped) tags: what the server writes, a client reads back as meant.
//   - Tag values survive escape → unescape unchanged.
//   - CAP lines go through a CapNegotiation and AUTHENTICATE lines through a SaslPlain, as a session
//     would: every reply is one or more well-formed lines that parse back; only offered capabilities
//     are ever enabled; CAP END always releases registration; SASL credentials are NUL-free with a
//     non-empty account and password, and base64 decoding agrees with a re-encoding.
//   - strip_formatting leaves no formatting code and keeps valid UTF-8 valid; utf8_prefix returns a
//     prefix within the bound that keeps valid UTF-8 valid; ctcp_action's text lies inside the input.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/base64.h"
#include "../core/irc_caps.h"
#include "../core/irc_message.h"
#include "../core/irc_sasl.h"
#include "../core/text.h"
#include "fuzz_util.h"

namespace {

using ep::irc::Message;
using ep::irc::ParseError;

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

std::vector<std::pair<std::string, std::string>> unescaped_tags(std::string_view tags) {
  std::vector<std::pair<std::string, std::string>> v;
  ep::irc::Tag t;
  while (ep::irc::next_tag(&tags, &t)) v.emplace_back(std::string(t.key), ep::irc::unescape_tag_value(t.value));
  return v;
}

struct Session {
  ep::irc::CapNegotiation caps;
  ep::irc::SaslPlain sasl;
};

uint32_t offered_bits() {
  size_t n;
  const ep::irc::CapInfo* c = ep::irc::caps_offered(&n);
  uint32_t bits = 0;
  for (size_t i = 0; i < n; ++i) bits |= c[i].bit;
  return bits;
}

std::string b64(std::string_view raw) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < raw.size(); i += 3) {
    uint32_t n = uint8_t(raw[i]) << 16;
    if (i + 1 < raw.size()) n |= uint8_t(raw[i + 1]) << 8;
    if (i + 2 < raw.size()) n |= uint8_t(raw[i + 2]);
    out.push_back(k[n >> 18]);
    out.push_back(k[(n >> 12) & 63]);
    out.push_back(i + 1 < raw.size() ? k[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < raw.size() ? k[n & 63] : '=');
  }
  return out;
}

void check_session(const Message& m, Session* s) {
  if (ep::irc::command_is(m.command, "CAP")) {
    std::string out;
    s->caps.handle(m, "epchat", "*", &out);
    FUZZ_CHECK(!out.empty() || (m.nparams >= 1 && ep::irc::command_is(m.params[0], "END")), "CAP without a reply");
    std::string_view rest = out;
    while (!rest.empty()) {
      size_t crlf = rest.find("\r\n");
      FUZZ_CHECK(crlf != std::string_view::npos, "CAP reply without CRLF");
      Message r;
      // An ACK/NAK echoes the client's list, so it may exceed what a client itself may send.
      ParseError e = ep::irc::parse(rest.substr(0, crlf), &r);
      FUZZ_CHECK(e == ParseError::None || e == ParseError::BodyTooLong, "CAP reply does not parse");
      rest.remove_prefix(crlf + 2);
    }
    FUZZ_CHECK((s->caps.enabled() & ~offered_bits()) == 0, "unknown capability enabled");
    if (m.nparams >= 1 && ep::irc::command_is(m.params[0], "END")) FUZZ_CHECK(!s->caps.holding(), "END still holds");
  } else if (ep::irc::command_is(m.command, "AUTHENTICATE") && m.nparams >= 1) {
    using R = ep::irc::SaslPlain::Result;
    R r = s->sasl.feed(m.params[0]);
    if (r == R::Ready) {
      const std::string &z = s->sasl.authzid(), &c = s->sasl.authcid(), &p = s->sasl.password();
      FUZZ_CHECK(!c.empty() && !p.empty(), "empty account or password accepted");
      FUZZ_CHECK(z.find('\0') == std::string::npos && c.find('\0') == std::string::npos &&
                 p.find('\0') == std::string::npos, "NUL inside a SASL field");
      FUZZ_CHECK(c.size() + p.size() + z.size() + 2 <= ep::irc::SaslPlain::kMaxResponse, "response over the bound");
      s->sasl.forget_password();
      FUZZ_CHECK(s->sasl.password().empty(), "password kept");
    }
    if (r != R::Continue) FUZZ_CHECK(!s->sasl.in_progress(), "SASL still in progress after a result");
  }
  // base64: what decodes re-encodes to the same text.
  for (size_t i = 0; i < m.nparams; ++i) {
    std::string raw;
    if (ep::base64::decode(m.params[i], &raw)) FUZZ_CHECK(b64(raw) == m.params[i], "base64 not canonical");
  }
}

void check_message(std::string_view line, Session* session) {
  Message m;
  ParseError e = ep::irc::parse(line, &m);
  FUZZ_CHECK(inside(m.tags, line) && inside(m.source, line) && inside(m.command, line), "view outside line");
  for (size_t i = 0; i < m.nparams; ++i) FUZZ_CHECK(inside(m.params[i], line), "param outside line");
  if (e != ParseError::None) return;

  FUZZ_CHECK(!m.command.empty(), "empty command accepted");
  FUZZ_CHECK(m.nparams <= ep::irc::kMaxParams, "too many params: %zu", m.nparams);
  for (size_t i = 0; i < m.nparams; ++i) {
    bool last_trailing = m.has_trailing && i + 1 == m.nparams;
    if (!last_trailing) FUZZ_CHECK(ep::irc::valid_middle(m.params[i]), "bad middle param %zu", i);
  }
  auto tags = unescaped_tags(m.tags);
  for (auto& kv : tags) FUZZ_CHECK(ep::irc::valid_tag_key(kv.first), "bad tag key accepted");

  // Round trip through the writer.
  std::string out;
  ep::irc::Writer w(&out);
  for (auto& kv : tags) w.tag(kv.first, kv.second);
  if (!m.source.empty()) w.source(m.source);
  w.command(m.command);
  for (size_t i = 0; i < m.nparams; ++i) {
    if (m.has_trailing && i + 1 == m.nparams) w.trailing(m.params[i]);
    else w.param(m.params[i]);
  }
  w.end();
  FUZZ_CHECK(out.size() >= 2 && out.substr(out.size() - 2) == "\r\n", "writer must end with CRLF");
  std::string_view again(out.data(), out.size() - 2);
  FUZZ_CHECK(again.find('\n') == std::string_view::npos, "writer produced an inner newline");
  Message m2;
  ParseError e2 = ep::irc::parse(again, &m2);
  // Escaping or an added ':' can make the written line longer than a client may send; only then
  // may the second parse refuse it.
  if (e2 == ParseError::TagsTooLong || e2 == ParseError::BodyTooLong) return;
  FUZZ_CHECK(e2 == ParseError::None, "written line does not parse: %s", ep::irc::error_name(e2));
  FUZZ_CHECK(m2.source == m.source && m2.command == m.command, "source/command changed");
  FUZZ_CHECK(m2.nparams == m.nparams, "param count changed %zu -> %zu", m.nparams, m2.nparams);
  for (size_t i = 0; i < m.nparams; ++i) FUZZ_CHECK(m2.params[i] == m.params[i], "param %zu changed", i);
  FUZZ_CHECK(unescaped_tags(m2.tags) == tags, "tags changed");
}

void check_text(std::string_view text, size_t max) {
  std::string esc;
  ep::irc::escape_tag_value(text, &esc);
  FUZZ_CHECK(ep::irc::unescape_tag_value(esc) == text, "tag value escape round trip");
  FUZZ_CHECK(esc.find_first_of("; \r\n") == std::string::npos, "escaped value holds a separator");

  bool valid = fuzz::classify(text) != fuzz::Verdict::BadUtf8;
  std::string plain = ep::irc::strip_formatting(text);
  FUZZ_CHECK(!ep::irc::has_formatting(plain), "formatting left after strip");
  FUZZ_CHECK(plain.size() <= text.size(), "strip grew the text");
  if (valid) FUZZ_CHECK(fuzz::classify(plain) != fuzz::Verdict::BadUtf8, "strip broke UTF-8");

  std::string_view pre = ep::text::utf8_prefix(text, max);
  FUZZ_CHECK(pre.data() == text.data() && pre.size() <= max && pre.size() <= text.size(), "bad prefix");
  if (text.size() <= max) FUZZ_CHECK(pre.size() == text.size(), "prefix cut a short text");
  if (valid) FUZZ_CHECK(fuzz::classify(pre) != fuzz::Verdict::BadUtf8, "prefix cut a UTF-8 sequence");

  std::string_view action;
  if (ep::irc::ctcp_action(text, &action)) FUZZ_CHECK(inside(action, text), "action outside text");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Bytes in{data, size};
  size_t max = in.u8();
  std::string_view rest(reinterpret_cast<const char*>(in.p), in.n);
  Session session;
  for (;;) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    check_message(line, &session);
    check_text(line, max);
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  return 0;
}
