// C-level unit tests of the engine's building blocks, without Node and without a network:
// input framing, text checks, the line codec, output queues (partial writes through a socketpair),
// the inactivity list and the latency histogram. Prints one line per failure and a closing
// "N passed, N failed"; exit status 1 on any failure.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "../core/ilist.h"
#include "../core/line_codec.h"
#include "../core/linein.h"
#include "../core/outq.h"
#include "../core/stats.h"
#include "../core/termkeys.h"
#include "../core/text.h"

namespace {

int g_passed = 0;
int g_failed = 0;
const char* g_test = "";

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::printf("FAIL %s: %s (%s:%d)\n", g_test, #cond, __FILE__, __LINE__);        \
      ok = false;                                                                     \
    }                                                                                 \
  } while (0)

struct Case {
  const char* name;
  std::function<bool()> fn;
};
std::vector<Case>& cases() {
  static std::vector<Case> v;
  return v;
}
struct Reg {
  Reg(const char* n, std::function<bool()> f) { cases().push_back({n, std::move(f)}); }
};
#define TEST(name) static bool name(); static Reg reg_##name(#name, name); static bool name()

// Feeds `chunks` into a LineIn and returns what came out: lines, and "!" for each too-long line.
std::vector<std::string> frame(const std::vector<std::string>& chunks, size_t max) {
  ep::LineIn in;
  std::vector<std::string> out;
  for (const auto& c : chunks)
    in.feed(
        c.data(), c.size(), max,
        [&](std::string_view l) {
          out.emplace_back(l);
          return true;
        },
        [&]() {
          out.emplace_back("!");
          return true;
        });
  return out;
}

using V = std::vector<std::string>;

TEST(linein_splits_lf_and_crlf) {
  bool ok = true;
  CHECK(frame({"a\nb\r\nc"}, 10) == (V{"a", "b"}));
  CHECK(frame({"a\nb\r\nc", "d\n"}, 10) == (V{"a", "b", "cd"}));
  CHECK(frame({"\n\r\n"}, 10) == (V{"", ""}));
  return ok;
}

TEST(linein_reassembles_byte_by_byte) {
  bool ok = true;
  std::string msg = "hello world\r\nsecond\n";
  V chunks;
  for (char ch : msg) chunks.emplace_back(1, ch);
  CHECK(frame(chunks, 64) == (V{"hello world", "second"}));
  return ok;
}

TEST(linein_too_long_is_discarded_whole) {
  bool ok = true;
  // exactly max is fine, with or without \r; max+1 is too long
  CHECK(frame({"abcd\nabcd\r\nabcde\nok\n"}, 4) == (V{"abcd", "abcd", "!", "ok"}));
  // no newline in sight: one error, the rest skipped up to the newline, spread over many chunks
  CHECK(frame({"abcdefgh", "ijkl", "mnop\nok\n"}, 4) == (V{"!", "ok"}));
  // a partial line that grows past max across reads
  CHECK(frame({"ab", "cd", "e", "fg\nz\n"}, 4) == (V{"!", "z"}));
  return ok;
}

TEST(linein_stop_drops_the_rest) {
  bool ok = true;
  ep::LineIn in;
  std::string s = "a\nb\nc\n";
  V out;
  bool r = in.feed(s.data(), s.size(), 10, [&](std::string_view l) {
    out.emplace_back(l);
    return l != "b";
  }, [] { return true; });
  CHECK(!r);
  CHECK(out == (V{"a", "b"}));
  return ok;
}

TEST(text_check_line) {
  bool ok = true;
  using ep::text::Check;
  using ep::text::check_line;
  CHECK(check_line("plain text\twith tab") == Check::Ok);
  CHECK(check_line("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == Check::Ok);
  CHECK(check_line(std::string_view("nul\0here", 8)) == Check::ControlChar);
  CHECK(check_line("esc\x1b[31m") == Check::ControlChar);
  CHECK(check_line("del\x7f") == Check::ControlChar);
  CHECK(check_line("c1 \xc2\x9b") == Check::ControlChar);        // U+009B CSI
  CHECK(check_line("\xff") == Check::BadUtf8);
  CHECK(check_line("\xc0\xaf") == Check::BadUtf8);               // overlong '/'
  CHECK(check_line("\xe0\x80\xaf") == Check::BadUtf8);           // overlong
  CHECK(check_line("\xed\xa0\x80") == Check::BadUtf8);           // surrogate
  CHECK(check_line("\xf4\x90\x80\x80") == Check::BadUtf8);       // > U+10FFFF
  CHECK(check_line("\xe2\x82") == Check::BadUtf8);               // truncated
  CHECK(check_line("\x80") == Check::BadUtf8);                   // lone continuation
  return ok;
}

TEST(text_names) {
  bool ok = true;
  using ep::text::valid_nick;
  using ep::text::valid_room;
  CHECK(valid_nick("Damoy", 24));
  CHECK(valid_nick("_x-1", 24));
  CHECK(!valid_nick("1abc", 24));
  CHECK(!valid_nick("", 24));
  CHECK(!valid_nick("abc", 2));
  CHECK(!valid_nick("a:b", 24));
  CHECK(!valid_nick("a b", 24));
  CHECK(valid_room("dev-2"));
  CHECK(!valid_room("#dev"));
  CHECK(!valid_room(std::string(33, 'a')));
  CHECK(ep::text::lower("AbC-9") == "abc-9");
  return ok;
}

// The admin console's line: what a terminal sends for keys is removed, text is kept byte for byte.
TEST(termkeys_strip) {
  bool ok = true;
  using ep::strip_terminal_keys;
  CHECK(strip_terminal_keys("/users") == "/users");
  CHECK(strip_terminal_keys("\x1b[A") == "");                         // Up
  CHECK(strip_terminal_keys("/us\x1b[D\x1b[Cers") == "/users");         // Left, Right
  CHECK(strip_terminal_keys("\x1b[1;5C/rooms\x1b[3~") == "/rooms");     // Ctrl-Right, Delete
  CHECK(strip_terminal_keys("\x1bOP\x1bOA/stats") == "/stats");         // F1, Up in application mode
  CHECK(strip_terminal_keys("\x01\x05/say hi\x7f\x08") == "/say hi");  // Ctrl-A, Ctrl-E, DEL, BS
  CHECK(strip_terminal_keys("\x1b" "b/kick bob") == "/kick bob");         // Alt-b
  CHECK(strip_terminal_keys("\x1b]0;title\x07/help") == "/help");      // OSC up to BEL
  CHECK(strip_terminal_keys("\x1bP1$r\x1b\\/help") == "/help");       // DCS up to ST
  CHECK(strip_terminal_keys("/say a\tb") == "/say a\tb");              // tab kept
  CHECK(strip_terminal_keys("/say caf\xc3\xa9 \xe2\x82\xac") == "/say caf\xc3\xa9 \xe2\x82\xac");  // UTF-8 kept
  CHECK(strip_terminal_keys("/say \xc2\x9b" "1;2Hx\xc2\x85y") == "/say xy");  // C1 CSI and NEL
  CHECK(strip_terminal_keys("/stats\x1b") == "/stats");               // a lone Escape at the end
  CHECK(strip_terminal_keys("\x1b[") == "");                           // a cut sequence
  CHECK(strip_terminal_keys(std::string("/a\0b", 4)) == "/ab");        // NUL
  return ok;
}

TEST(codec_parse) {
  bool ok = true;
  ep::LineCodec codec;
  auto p = [&](const char* s) { return codec.parse(s); };
  CHECK(p("hello").cmd == ep::Cmd::Text && p("hello").text == "hello");
  CHECK(p("//shrug").cmd == ep::Cmd::Text && p("//shrug").text == "/shrug");
  CHECK(p("/JOIN #dev").cmd == ep::Cmd::Join && p("/JOIN #dev").arg == "dev");
  ep::Request m = p("/msg bob  two  spaces");
  CHECK(m.cmd == ep::Cmd::Msg && m.arg == "bob" && m.text == " two  spaces");
  CHECK(p("/pm bob hi").cmd == ep::Cmd::Msg);
  CHECK(p("/part").cmd == ep::Cmd::Leave);
  ep::Request o = p("/register alice pw");
  CHECK(o.cmd == ep::Cmd::Other && o.name == "register" && o.text == "alice pw");
  CHECK(p("/").cmd == ep::Cmd::Other && p("/").name.empty());
  CHECK(p("/ msg x").cmd == ep::Cmd::Other && p("/ msg x").name.empty());
  return ok;
}

TEST(codec_format) {
  bool ok = true;
  ep::LineCodec codec;
  auto f = [&](const ep::Out& o) {
    ep::Buf* b = codec.format(o);
    std::string s(b->data, b->len);
    b->unref();
    return s;
  };
  CHECK(f({ep::OutKind::Chat, "alice", "lobby", "hi"}) == "alice: hi\n");
  CHECK(f({ep::OutKind::Welcome, "Bob"}) == ">> Welcome Bob !\n");
  CHECK(f({ep::OutKind::Error, "NICK_TAKEN", {}, "taken"}) == "!! NICK_TAKEN taken\n");
  CHECK(f({ep::OutKind::End, "ROOMS", {}, {}, 3}) == "== END ROOMS 3\n");
  CHECK(f({ep::OutKind::PmFrom, "bob", {}, "x"}) == "[pm from bob] x\n");
  return ok;
}

TEST(outq_partial_writes_keep_order) {
  bool ok = true;
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  int small = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ep::OutQ q;
  std::string expect;
  for (int i = 0; i < 2000; ++i) {
    std::string line = "line " + std::to_string(i) + std::string(static_cast<size_t>(i % 97), 'x') + "\n";
    ep::Buf* b = ep::Buf::make(line.data(), line.size());
    q.push(b);
    b->unref();
    expect += line;
  }
  CHECK(q.bytes() == expect.size());
  std::string got;
  char buf[65536];
  int rounds = 0;
  while (!q.empty() && rounds++ < 100000) {
    size_t w = 0;
    int err = 0;
    ep::FlushResult r = q.flush(sv[0], &w, &err);
    CHECK(r != ep::FlushResult::Error);
    ssize_t n;
    while ((n = read(sv[1], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  }
  ssize_t n;
  while ((n = read(sv[1], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  CHECK(q.empty() && q.bytes() == 0);
  CHECK(got == expect);
  close(sv[0]);
  close(sv[1]);
  return ok;
}

TEST(outq_shared_buffer_refcount) {
  bool ok = true;
  ep::Buf* b = ep::Buf::make("x\n", 2);
  {
    ep::OutQ a, c;
    a.push(b);
    c.push(b);
    CHECK(b->refs == 3);
  }
  CHECK(b->refs == 1);
  b->unref();
  return ok;
}

struct Node {
  int v;
  ep::ILink<Node> link;
};

TEST(ilist_move_to_back_keeps_order) {
  bool ok = true;
  ep::IList<Node> l(0);
  Node n[4] = {{0, {}}, {1, {}}, {2, {}}, {3, {}}};
  for (auto& x : n) l.push_back(&x);
  l.move_to_back(&n[1]);
  l.remove(&n[2]);
  std::vector<int> order;
  for (Node* p = l.head(); p; p = p->link.next) order.push_back(p->v);
  CHECK(order == (std::vector<int>{0, 3, 1}));
  CHECK(l.size() == 3 && n[2].link.list == -1);
  return ok;
}

TEST(histogram_percentiles) {
  bool ok = true;
  ep::LatencyHistogram h;
  for (int i = 1; i <= 1000; ++i) h.record(static_cast<uint64_t>(i));
  uint64_t p50 = h.percentile(0.5), p99 = h.percentile(0.99);
  CHECK(p50 >= 500 && p50 <= 500 * 1.13);
  CHECK(p99 >= 990 && p99 <= 990 * 1.13);
  CHECK(h.mean() == 500);
  return ok;
}

}  // namespace

int main() {
  for (auto& c : cases()) {
    g_test = c.name;
    if (c.fn()) ++g_passed;
    else ++g_failed;
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
