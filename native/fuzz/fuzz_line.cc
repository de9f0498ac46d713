// fuzz_line: everything that reads a client's bytes before any state changes.
//
//   LineIn (framing, with a random maximum and random read boundaries), text::check_line,
//   LineCodec::parse, and LineCodec::format of what was parsed.
//
// Input: 2 bytes of maximum line length, 4 bytes of chunk-size seed, then the client's bytes.
// Invariants:
//   - LineIn hands out exactly the lines a simple reference splitter predicts (same order, same
//     bytes, LINE_TOO_LONG at the same places), never a line holding '\n' or longer than max;
//     the same bytes fed in one piece and in random pieces give the same events.
//   - check_line's verdict equals an independent decoder's (fuzz_util.h); a line it accepts has no
//     byte 0x00-0x08, 0x0A-0x1F, 0x7F and is valid UTF-8.
//   - parse's views lie inside the line; its fields follow the documented grammar.
//   - format of a chat line built from the parsed text is "nick: text\n", one newline, at the end.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "../core/irc_message.h"
#include "../core/line_codec.h"
#include "../core/linein.h"
#include "../core/text.h"
#include "fuzz_util.h"

namespace {

struct Event {
  bool too_long;
  std::string line;
  bool operator==(const Event& o) const { return too_long == o.too_long && line == o.line; }
};

// The reference: split on '\n'; drop one trailing '\r'; longer than max → too long. A trailing
// piece with no '\n' yields too-long only once it is already longer than max + 1 (max bytes plus
// a possible '\r'), which is what a streaming splitter can know.
std::vector<Event> reference(std::string_view in, size_t max) {
  std::vector<Event> ev;
  size_t start = 0;
  for (;;) {
    size_t nl = in.find('\n', start);
    if (nl == std::string_view::npos) {
      if (in.size() - start > max + 1) ev.push_back({true, {}});
      break;
    }
    std::string_view seg = in.substr(start, nl - start);
    if (!seg.empty() && seg.back() == '\r') seg.remove_suffix(1);
    if (seg.size() > max) ev.push_back({true, {}});
    else ev.push_back({false, std::string(seg)});
    start = nl + 1;
  }
  return ev;
}

std::vector<Event> split(std::string_view in, size_t max, fuzz::Chunker* ch, bool* pending) {
  std::vector<Event> ev;
  ep::LineIn li;
  size_t off = 0;
  while (off < in.size()) {
    size_t n = ch ? ch->next() : in.size();
    if (n > in.size() - off) n = in.size() - off;
    bool ok = li.feed(
        in.data() + off, n, max,
        [&](std::string_view line) {
          FUZZ_CHECK(line.find('\n') == std::string_view::npos, "line with a newline");
          FUZZ_CHECK(line.size() <= max, "line of %zu bytes, max %zu", line.size(), max);
          ev.push_back({false, std::string(line)});
          return true;
        },
        [&]() {
          ev.push_back({true, {}});
          return true;
        });
    FUZZ_CHECK(ok, "feed failed with callbacks that never stop");
    off += n;
  }
  *pending = li.pending();
  return ev;
}

bool inside(std::string_view part, std::string_view whole);

void check_text(std::string_view line) {
  ep::text::Check got = ep::text::check_line(line);
  fuzz::Verdict want = fuzz::classify(line);
  char buf[200];
  fuzz::dump(line.substr(0, 40), buf, sizeof buf);
  switch (want) {
    case fuzz::Verdict::Ok: FUZZ_CHECK(got == ep::text::Check::Ok, "check_line refused a good line: %s", buf); break;
    case fuzz::Verdict::BadUtf8: FUZZ_CHECK(got == ep::text::Check::BadUtf8, "check_line missed bad UTF-8: %s", buf); break;
    case fuzz::Verdict::Control: FUZZ_CHECK(got == ep::text::Check::ControlChar, "check_line missed a control: %s", buf); break;
    case fuzz::Verdict::Spoof: FUZZ_CHECK(got == ep::text::Check::Spoof, "check_line missed a bidi control or separator: %s", buf); break;
  }
  if (got == ep::text::Check::Ok) {
    FUZZ_CHECK(!fuzz::has_forbidden_byte(line), "accepted a control byte: %s", buf);
    FUZZ_CHECK(!fuzz::has_spoof_sequence(line), "accepted a bidi control or separator: %s", buf);
    // blank() sees nothing visible only where there is no ASCII letter, digit or punctuation
    bool visible_ascii = false;
    for (char ch : line) visible_ascii |= ch > ' ' && ch < 0x7F;
    if (visible_ascii) FUZZ_CHECK(!ep::text::blank(line), "blank() on a line with visible text: %s", buf);
  }
  // strip_bom removes exactly one leading EF BB BF and nothing else
  std::string_view nb = ep::text::strip_bom(line);
  bool bom = line.size() >= 3 && line.substr(0, 3) == "\xEF\xBB\xBF";
  FUZZ_CHECK(nb.size() == line.size() - (bom ? 3 : 0) && inside(nb, line) && nb == line.substr(bom ? 3 : 0),
             "strip_bom: %s", buf);
}

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool blank_edges(std::string_view s) {
  return !s.empty() && (s.front() == ' ' || s.front() == '\t' || s.back() == ' ' || s.back() == '\t');
}

void check_parse(std::string_view line) {
  static const ep::LineCodec codec;
  ep::Request r = codec.parse(line);
  FUZZ_CHECK(inside(r.name, line) && inside(r.arg, line) && inside(r.text, line), "view outside the line");
  bool slash = !line.empty() && line[0] == '/';
  bool escaped = line.size() >= 2 && line[0] == '/' && line[1] == '/';
  if (!slash || escaped) {
    FUZZ_CHECK(r.cmd == ep::Cmd::Text, "plain text parsed as a command");
    FUZZ_CHECK(r.text == (escaped ? line.substr(1) : line), "text changed");
    return;
  }
  FUZZ_CHECK(r.cmd != ep::Cmd::Text, "a '/' line parsed as text");
  FUZZ_CHECK(r.name.find_first_of(" \t") == std::string_view::npos, "command name with a blank");
  if (r.cmd != ep::Cmd::Other) FUZZ_CHECK(!r.name.empty(), "known command with no name");
  switch (r.cmd) {
    case ep::Cmd::Nick:
      FUZZ_CHECK(!blank_edges(r.arg), "argument not trimmed");
      break;
    case ep::Cmd::Create:
    case ep::Cmd::Join:
      // Trimmed, then one '#' stripped: "# dev" leaves " dev", which valid_room refuses.
      FUZZ_CHECK(!blank_edges(r.arg) || (r.arg.data() > line.data() && r.arg.data()[-1] == '#'),
                 "room argument not trimmed");
      FUZZ_CHECK(!(ep::text::valid_room(r.arg) && blank_edges(r.arg)), "valid_room took a blank");
      break;
    case ep::Cmd::Msg:
      FUZZ_CHECK(r.arg.find_first_of(" \t") == std::string_view::npos, "msg target with a blank");
      break;
    case ep::Cmd::Me:
    case ep::Cmd::Quit:
      FUZZ_CHECK(!blank_edges(r.text), "text not trimmed");
      break;
    default:
      break;
  }
  // The validators must agree with the documented grammar, whatever they are given.
  FUZZ_CHECK(ep::text::valid_nick(r.arg, 24) == (fuzz::nick_syntax(r.arg) && r.arg.size() <= 24), "valid_nick disagrees");
  std::string lowered = ep::text::lower(r.name);
  FUZZ_CHECK(lowered.size() == r.name.size(), "lower changed the length");
}

// Text reaching the line codec is either a line user's (no control byte: sent verbatim) or an IRC
// user's, whose formatting codes and CTCP delimiters are removed so a line user never gets them raw.
void check_format(std::string_view raw) {
  static ep::LineCodec codec;
  std::string expected(raw);
  if (ep::irc::has_formatting(raw) || raw.find('\x01') != std::string_view::npos) {
    expected = ep::irc::strip_formatting(raw);
    expected.erase(std::remove(expected.begin(), expected.end(), '\x01'), expected.end());
  }
  std::string_view text = expected;
  ep::Out o{ep::OutKind::Chat, "alice", "lobby", text};
  ep::Buf* b = codec.format(o);
  FUZZ_CHECK(b != nullptr, "format failed");
  std::string_view got(b->data, b->len);
  FUZZ_CHECK(got.size() == text.size() + 8 && got.substr(0, 7) == "alice: " && got.substr(7, text.size()) == text &&
                 got.back() == '\n',
             "chat line mis-formatted");
  b->unref();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Bytes in{data, size};
  size_t max = 1 + in.u16() % 600;
  fuzz::Chunker ch;
  for (auto& s : ch.seed) s = in.u8();
  std::string_view stream(reinterpret_cast<const char*>(in.p), in.n);

  std::vector<Event> want = reference(stream, max);
  bool pending_whole = false, pending_chunked = false;
  std::vector<Event> whole = split(stream, max, nullptr, &pending_whole);
  std::vector<Event> chunked = split(stream, max, &ch, &pending_chunked);
  FUZZ_CHECK(whole == want, "LineIn (one read) disagrees with the reference: %zu events, want %zu", whole.size(), want.size());
  FUZZ_CHECK(chunked == want, "LineIn (chunked) disagrees with the reference: %zu events, want %zu", chunked.size(), want.size());
  bool ends_clean = stream.empty() || stream.back() == '\n';
  FUZZ_CHECK(pending_whole == !ends_clean && pending_chunked == !ends_clean, "pending() wrong");

  for (const Event& e : want) {
    if (e.too_long) continue;
    check_text(e.line);
    check_parse(e.line);
    check_format(e.line);
  }
  // The raw stream as one "line" too: check_line and parse must cope with any bytes.
  check_text(stream);
  check_parse(stream);
  return 0;
}
