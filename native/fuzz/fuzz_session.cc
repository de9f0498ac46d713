// fuzz_session: client bytes through the whole engine, with no network.
//
// One Server, bound to 127.0.0.1:0 once per process. Per input: a policy chosen by the first byte,
// one to four clients adopted from socketpairs, the input's lines dealt to them round robin and
// written in chunks of fuzzed sizes between loop passes (step(0)), then passes until nothing moves.
// Every byte the server writes is checked; then the clients close and the server must free them.
//
// Input: byte 0 = flags (below), bytes 1-4 = chunk-size seed, the rest = client bytes; line i
// (split on '\n', kept) goes to client i % nclients.
//
// Invariants checked:
//   - every server line ends with '\n' (a line may be cut only for a client dropped as slow or
//     reset, whose queue is discarded by design);
//   - every line is valid UTF-8 with no control character but tab;
//   - every line starts with a documented prefix (">> ", "!! CODE" with a documented CODE, "== ",
//     "* ", "[pm from NICK] ", "[pm to NICK] ") or with "NICK: " for a registered NICK;
//   - once the clients are closed the server frees them all: no connection, no user, no room but
//     the default one (and ASan/LSan see no error and no leak).
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "../core/bridge.h"
#include "../core/server.h"
#include "../core/stats.h"
#include "fuzz_util.h"

namespace {

// Flags in byte 0.
constexpr uint8_t kClientsMask = 0x03;  // 1 + (flags & 3) clients
constexpr uint8_t kFlood = 0x04;        // flood control on, tiny rate: a burst of 8 lines, then FLOOD
constexpr uint8_t kShortLines = 0x08;   // maxLineBytes 64
constexpr uint8_t kSlowReader = 0x10;   // client 0 never reads; small socket buffer, maxOutputBytes 4096
constexpr uint8_t kHostOps = 0x20;      // afterwards, the host announces and kicks the first nick
constexpr uint8_t kAbort = 0x40;        // the last client closes without reading, output pending
constexpr uint8_t kQuietRooms = 0x80;   // quietRoomSize 1: joins/departures stop being announced

const char* const kCodes[] = {
    "NICK_INVALID", "NICK_TAKEN",   "NICK_RESERVED",   "NOT_REGISTERED", "UNKNOWN_COMMAND", "USAGE",
    "NO_SUCH_ROOM", "ROOM_EXISTS",  "ROOM_INVALID",    "ROOM_LIMIT",     "ALREADY_IN_ROOM", "NO_SUCH_USER",
    "LINE_TOO_LONG", "BAD_UTF8",    "BAD_CHAR",        "EMPTY",          "FLOOD",           "FLOOD_KICK",
    "IDLE_TIMEOUT", "REGISTRATION_TIMEOUT", "SERVER_FULL", "KICKED",     "SHUTDOWN",
};

struct World {
  ep::Bridge bridge;
  ep::Stats stats;
  std::unique_ptr<ep::Server> server;
  World() {
    signal(SIGPIPE, SIG_IGN);
    ep::Options opt;
    opt.host = "127.0.0.1";
    opt.port = 0;
    opt.max_clients = 64;
    server = std::make_unique<ep::Server>(opt, &bridge, &stats);
    std::string code, msg;
    FUZZ_CHECK(server->open(&code, &msg), "open: %s %s", code.c_str(), msg.c_str());
  }
};

// EPCHAT_FUZZ_VERBOSE=1 prints every server line (for reading what a corpus file does).
bool verbose() {
  static const bool v = std::getenv("EPCHAT_FUZZ_VERBOSE") != nullptr;
  return v;
}

World& world() {
  static World w;
  return w;
}

struct Peer {
  int fd = -1;  // our end of the socketpair
  uint64_t id = 0;
  bool reads = true;
  bool eof = false;
  bool cut_ok = false;  // dropped as slow or reset: a last partial line is allowed
  std::string in;       // bytes to write
  size_t off = 0;
  std::string rx;       // received, not yet split into lines
};

struct Session {
  World& w;
  std::vector<Peer> peers;
  std::set<std::string> nicks;  // every nick registered during this input (lower case)

  std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return o;
  }

  // Returns how many events the pass produced.
  size_t drain_events() {
    size_t n = 0;
    for (ep::HostEvent& ev : w.bridge.drain()) {
      ++n;
      if (ev.type == ep::EvType::Register) nicks.insert(lower(ev.a));
      if (ev.type == ep::EvType::Nick) nicks.insert(lower(ev.b));
      if (ev.type == ep::EvType::Disconnect && (ev.b == "slow" || ev.b == "reset"))
        for (Peer& p : peers)
          if (p.id == ev.id) p.cut_ok = true;
    }
    return n;
  }

  void check_line(std::string_view line) {
    char shown[300];
    fuzz::dump(line.substr(0, 60), shown, sizeof shown);
    if (verbose()) std::fprintf(stderr, "  < %s\n", shown);
    FUZZ_CHECK(fuzz::classify(line) == fuzz::Verdict::Ok, "server line not clean UTF-8 text: %s", shown);
    auto starts = [&](std::string_view p) { return line.substr(0, p.size()) == p; };
    if (starts(">> ") || starts("== ") || starts("* ")) return;
    if (starts("!! ")) {
      std::string_view rest = line.substr(3);
      std::string_view code = rest.substr(0, rest.find(' '));
      bool known = false;
      for (const char* k : kCodes) known = known || code == k;
      FUZZ_CHECK(known, "undocumented error code: %s", shown);
      return;
    }
    for (std::string_view p : {std::string_view("[pm from "), std::string_view("[pm to ")}) {
      if (!starts(p)) continue;
      size_t close = line.find("] ", p.size());
      FUZZ_CHECK(close != std::string_view::npos, "pm line without '] ': %s", shown);
      std::string_view nick = line.substr(p.size(), close - p.size());
      FUZZ_CHECK(nicks.count(lower(nick)), "pm with unregistered nick: %s", shown);
      return;
    }
    size_t colon = line.find(": ");
    FUZZ_CHECK(colon != std::string_view::npos, "line with no known prefix: %s", shown);
    std::string_view nick = line.substr(0, colon);
    FUZZ_CHECK(fuzz::nick_syntax(nick) && nicks.count(lower(nick)), "chat line from no registered nick: %s", shown);
  }

  void split_lines(Peer& p) {
    size_t start = 0;
    for (;;) {
      size_t nl = p.rx.find('\n', start);
      if (nl == std::string::npos) break;
      check_line(std::string_view(p.rx).substr(start, nl - start));
      start = nl + 1;
    }
    p.rx.erase(0, start);
  }

  // Reads what the server wrote to every reading peer; returns the byte count.
  size_t read_all(bool everyone) {
    size_t total = 0;
    drain_events();  // learn nicks before checking the lines that name them
    for (Peer& p : peers) {
      if (p.fd < 0 || p.eof || (!p.reads && !everyone)) continue;
      char buf[65536];
      for (;;) {
        ssize_t r = ::read(p.fd, buf, sizeof buf);
        if (r > 0) {
          total += static_cast<size_t>(r);
          p.rx.append(buf, static_cast<size_t>(r));
          continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) p.eof = true;
        if (r < 0 && errno == EINTR) continue;
        break;
      }
      split_lines(p);
    }
    return total;
  }

  void pass() { w.server->step(0); }

  // Steps until three passes in a row move nothing (bounded).
  void settle(bool everyone) {
    int calm = 0;
    for (int i = 0; i < 2000 && calm < 3; ++i) {
      pass();
      size_t moved = read_all(everyone) + drain_events();
      calm = moved ? 0 : calm + 1;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  fuzz::Bytes in{data, size};
  uint8_t flags = in.u8();
  fuzz::Chunker ch;
  for (auto& s : ch.seed) s = in.u8();
  if (in.n > 64 * 1024) return 0;  // keep runs short; long lines are covered by fuzz_line

  Session s{w, {}, {}};
  w.bridge.drain();

  ep::Policy pol;
  pol.flood_rate = 0;
  if (flags & kFlood) {
    pol.flood_rate = 0.001;  // ~nothing refills during a run: the burst decides, deterministically
    pol.flood_burst = 8;
    pol.flood_kick = 6;
  }
  if (flags & kShortLines) pol.max_line = 64;
  if (flags & kSlowReader) pol.max_output = 4096;
  if (flags & kQuietRooms) pol.quiet_room_size = 1;
  ep::HostCmd set{ep::CmdType::SetPolicy};
  set.policy = std::make_shared<ep::Policy>(pol);
  w.bridge.post(std::move(set));
  s.pass();

  size_t nclients = 1 + (flags & kClientsMask);
  s.peers.resize(nclients);
  for (size_t i = 0; i < nclients; ++i) {
    int fds[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0, "socketpair: %s",
               std::strerror(errno));
    if (i == 0 && (flags & kSlowReader)) {
      int small = 4096;
      setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
      setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      s.peers[i].reads = false;
    }
    std::string addr = "fuzz:" + std::to_string(i);
    ep::Client* c = w.server->adopt(fds[0], addr.c_str());
    FUZZ_CHECK(c != nullptr, "adopt refused client %zu", i);
    s.peers[i].fd = fds[1];
    s.peers[i].id = c->id();
  }

  // Deal the lines.
  std::string_view payload(reinterpret_cast<const char*>(in.p), in.n);
  for (size_t line = 0, start = 0; start < payload.size(); ++line) {
    size_t nl = payload.find('\n', start);
    size_t end = nl == std::string_view::npos ? payload.size() : nl + 1;
    s.peers[line % nclients].in.append(payload.substr(start, end - start));
    start = end;
  }

  // Write in chunks, a pass after each round.
  for (int round = 0; round < 100000; ++round) {
    bool more = false;
    for (Peer& p : s.peers) {
      if (p.fd < 0 || p.off >= p.in.size()) continue;
      size_t n = ch.next();
      if (n > p.in.size() - p.off) n = p.in.size() - p.off;
      ssize_t wr = ::send(p.fd, p.in.data() + p.off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (wr > 0) p.off += static_cast<size_t>(wr);
      else if (wr < 0 && errno != EAGAIN && errno != EINTR) p.off = p.in.size();  // server closed it
      more = more || p.off < p.in.size();
    }
    s.pass();
    s.read_all(false);
    if (!more) break;
  }

  if ((flags & kAbort) && nclients > 1) {
    // Leaves while the server may still be writing to it.
    ::close(s.peers.back().fd);
    s.peers.back().fd = -1;
  }
  s.settle(false);

  if (flags & kHostOps) {
    ep::HostCmd ann{ep::CmdType::Announce};
    ann.a = "fuzz announcement";
    w.bridge.post(std::move(ann));
    if (!s.nicks.empty()) {
      ep::HostCmd kick{ep::CmdType::Kick};
      kick.a = *s.nicks.begin();
      kick.b = "fuzz kick";
      w.bridge.post(std::move(kick));
    }
    s.settle(false);
  }

  // The slow reader finally reads what it was sent; then everyone leaves.
  s.read_all(true);
  for (Peer& p : s.peers) {
    if (p.fd < 0) continue;
    // A reader that kept up has every line whole once the server went quiet; so has anyone the
    // server closed, unless it was dropped (slow, reset) and its queue discarded.
    if (!p.cut_ok && (p.eof || p.reads)) {
      char shown[200];
      fuzz::dump(std::string_view(p.rx).substr(0, 60), shown, sizeof shown);
      FUZZ_CHECK(p.rx.empty(), "server closed a connection mid-line: %s", shown);
    }
    ::close(p.fd);
    p.fd = -1;
  }
  for (int i = 0; i < 1000 && w.stats.connections.get() != 0; ++i) {
    s.pass();
    s.drain_events();
  }
  FUZZ_CHECK(w.stats.connections.get() == 0, "%llu connections still open after every client left",
             static_cast<unsigned long long>(w.stats.connections.get()));
  FUZZ_CHECK(w.stats.users.get() == 0, "users left behind");
  FUZZ_CHECK(w.stats.rooms.get() == 1, "%llu rooms left behind (want only the default room)",
             static_cast<unsigned long long>(w.stats.rooms.get()));
  w.bridge.drain();
  return 0;
}
