// fuzz_session: client bytes and host commands through the whole engine, with no network.
//
// One Server, bound to 127.0.0.1:0 once per process. Per input: a policy chosen by the first byte,
// one to four clients adopted from socketpairs, the input's lines dealt to them round robin and
// written in chunks of fuzzed sizes between loop passes (step(0)), then passes until nothing moves.
// A line of the input that starts with the two bytes FF FE is not a client's: it is a host command,
// posted through the Bridge once the client lines before it are written (see HostOp below), so the
// host's side (login, prompt, protect, deliver, setPolicy, send, kick, query, announce, finish, reply) runs
// interleaved with client traffic. Like a real host, the harness finishes every forwarded command
// (the client's later lines wait for it): when the input says so (OpFinish, with the right, a stale or
// a made-up sequence number, or closing the client), else once writing stalls or the server settles.
// A line that starts with FF FD is a fault (see FaultKind): a client's next write, read or shutdown
// fails (EPIPE, ECONNRESET, EIO, ENOTCONN), writes go short or return EAGAIN, or the peer resets or
// half-closes, at that point of the input. Every byte the server writes is checked, and so is every
// event the Bridge hands out; then the clients close and the server must free them.
//
// Input: byte 0 = flags (below), bytes 1-4 = chunk-size seed, the rest = lines (split on '\n',
// kept); client line i goes to client i % nclients. A client whose first line starts with an IRC
// registration command (CAP, NICK, USER, PASS, in capitals) is adopted as an IRC connection
// (docs/irc.md): IRC and line clients share the rooms, nicks and private messages. One whose first
// line starts with a TLS handshake byte (0x16) or with "TLS " is adopted as a TLS connection
// (tls_transport.h) and its bytes are ciphertext to the engine: garbage, a broken or half ClientHello,
// or plaintext on a TLS port; what it gets back must be nothing, a TLS record (an alert, a
// ServerHello) or one of the plaintext answers, and it is freed like every other client. One whose
// first line starts with "GET " is adopted as an HTTP connection and upgraded to a WebSocket
// (docs/websocket.md): the harness writes a valid upgrade in place of that line, choosing the
// subprotocol by it ("bin": binary.ircv3.net, "line": epchat.line, else text.ircv3.net), then
// sends each of the client's later lines as one masked message (a text frame when it is UTF-8, else
// binary; some in two fragments with a ping between them); a line starting with FF FB is written raw
// after the handshake (bogus frames: the violations).
//
// Invariants checked:
//   - to a WebSocket client: a 101, then only whole server frames: unmasked, FIN, no reserved bit,
//     text (binary for binary.ircv3.net) holding one line (no LF; valid UTF-8 in a text frame)
//     that passes the IRC or line checks below, pongs, and a Close with a valid code as the last
//     frame;
//   - to an IRC client: every server line ends with CRLF, holds no NUL, and parses with irc::parse
//     (the body within 512 bytes, tags within their limit); the line-protocol rules below are for
//     line clients, whatever IRC users send them (formatting codes and CTCP never reach them raw);
//   - every server line ends with '\n' (a line may be cut only for a client dropped as slow or
//     reset, whose queue is discarded by design);
//   - every line is valid UTF-8 with no control character but tab, and starts with a documented
//     prefix (">> ", "!! CODE" with a documented CODE, "== ", "* ", "[pm from NICK] ",
//     "[pm to NICK] ") or with "NICK: " for a registered NICK. Exempt: a line that is exactly a
//     piece of text the harness itself had the engine send as is (Send, Announce): the engine
//     forwards that host text verbatim by design, control bytes and all, so the harness fuzzes it
//     freely and only excuses the lines it injected;
//   - structured host lines (Reply, Deliver: notices, errors, lists, private and group messages,
//     with fuzzed fields): a well-formed one arrives as the line the harness formats itself, and that
//     line is clean; a malformed one is never sent, and each is reported by exactly one
//     EPCHAT_INVALID_ARGUMENT error event;
//   - events are well formed: per-client events name a client of this input, nicks and rooms
//     follow their grammar, disconnect reasons and command names are known ones, `auth` only for a
//     protected nick; every Deliver / Kick / Query gets exactly one Reply with its req and kind;
//   - order: a client with a command the host has not finished gets no other command forwarded and
//     sends no message (its later lines wait); a client's sequence numbers increase;
//     deliver's offline list is a subsequence of the nicks asked for and holds every nick that
//     cannot be online (bad syntax); a kick of such a nick fails; a users/rooms query pair agrees
//     (when only line clients take part: an IRC user is in any number of rooms, or none, where its
//     room is reported as "");
//   - with lifecycle events off (for the whole pass), no connect / register / nick / join / leave /
//     disconnect / timeout event for a client the host never logged in, that never entered the
//     password step and never sent a delegated command;
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
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "../core/bridge.h"
#include "../core/irc_message.h"
#include "../core/server.h"
#include "../core/stats.h"
#include "../core/sysio.h"
#include "../test/tls_testcert.h"
#include "../core/ws_codec.h"
#include "../core/ws_frame.h"
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

// A host-command line: FF FE, then the op byte, then its arguments (to the end of the line).
// Op byte: bit 7 = let the server settle first (otherwise the command lands while client bytes
// may still be in flight); (op & 0x7F) % kOpCount = the command.
enum HostOp : uint8_t {
  OpLogin, OpPrompt, OpProtect, OpDeliver, OpPolicy, OpSend, OpKick, OpQuery, OpAnnounce, OpFinish, OpReply, kOpCount
};

// A fault line: FF FD, then [who][kind][n][arg] (see FaultKind). Faults go through the engine's
// sysio seam (native/core/sysio.h) on the server's end of a peer's socketpair, or are real: the
// peer resets (closes its end) or half-closes. They are armed between passes and fire when the
// engine next reads, writes or shuts down that socket, so the fuzzer chooses where in a pass's
// reads, fan-out and flush a client fails.
enum FaultKind : uint8_t {
  FaultSend,       // the (n % 4)-th next sendmsg fails: EPIPE, ECONNRESET or EIO (arg % 3); with
                   // arg & 0x40, every later one too (a peer gone for good)
  FaultRead,       // the (n % 4)-th next read fails: ECONNRESET or EIO (arg % 2)
  FaultShort,      // the next (n % 16) + 1 sendmsg calls write at most (arg % 64) + 1 bytes
  FaultAgain,      // the next (n % 4) + 1 sendmsg calls return EAGAIN although the socket has room
  FaultReset,      // the peer closes its end now (the engine sees EPIPE / ECONNRESET / EOF)
  FaultHalfClose,  // the peer shuts down its write side now and keeps reading
  FaultShutdown,   // the engine's next shutdown(SHUT_WR) fails with ENOTCONN
  FaultAllSend,    // every peer: from the (n % 4)-th next sendmsg on, every one fails with EPIPE
                   // (a wave of resets: many failing in one flush)
  FaultTightOutput,  // maxOutputBytes becomes 64 << (arg % 8) (64 B - 8 KiB): queues overflow easily
  kFaultCount
};

// The harness's sysio hook: per server-side descriptor, what to fail next. A plan ends when the
// engine closes the descriptor (the number may be reused).
struct FaultPlan {
  int send_in = -1;   // sendmsg calls to let through before failing; -1: none
  int send_errno = EPIPE;
  bool send_sticky = false;  // once failing, keep failing
  int read_in = -1;
  int read_errno = ECONNRESET;
  int short_calls = 0;
  size_t short_cap = 0;
  int again_calls = 0;
  bool shutdown_fails = false;
};

struct FaultHook : ep::sysio::Hook {
  std::map<int, FaultPlan> plans;
  uint64_t fired = 0;
  ssize_t sendmsg(int fd, const msghdr* msg, int flags) override {
    auto it = plans.find(fd);
    if (it != plans.end()) {
      FaultPlan& p = it->second;
      if (p.send_in == 0) {
        if (!p.send_sticky) p.send_in = -1;
        ++fired;
        errno = p.send_errno;
        return -1;
      }
      if (p.send_in > 0) --p.send_in;
      if (p.again_calls > 0) {
        --p.again_calls;
        ++fired;
        errno = EAGAIN;
        return -1;
      }
      if (p.short_calls > 0 && msg->msg_iovlen > 0) {
        --p.short_calls;
        ++fired;
        msghdr m = *msg;
        iovec one = {msg->msg_iov[0].iov_base, std::min(p.short_cap, msg->msg_iov[0].iov_len)};
        m.msg_iov = &one;
        m.msg_iovlen = 1;
        return ::sendmsg(fd, &m, flags);
      }
    }
    return ::sendmsg(fd, msg, flags);
  }
  ssize_t read(int fd, void* buf, size_t n) override {
    auto it = plans.find(fd);
    if (it != plans.end() && it->second.read_in >= 0) {
      if (it->second.read_in-- == 0) {
        ++fired;
        errno = it->second.read_errno;
        return -1;
      }
    }
    return ::read(fd, buf, n);
  }
  int shutdown(int fd, int how) override {
    auto it = plans.find(fd);
    if (it != plans.end() && it->second.shutdown_fails) {
      it->second.shutdown_fails = false;
      ++fired;
      errno = ENOTCONN;
      return -1;
    }
    return ::shutdown(fd, how);
  }
  int close(int fd) override {
    plans.erase(fd);
    return ::close(fd);
  }
};

FaultHook& fault_hook() {
  static FaultHook h;
  return h;
}

const char* const kCodes[] = {
    "NICK_INVALID", "NICK_TAKEN",   "NICK_RESERVED",   "NOT_REGISTERED", "UNKNOWN_COMMAND", "USAGE",
    "NO_SUCH_ROOM", "ROOM_EXISTS",  "ROOM_INVALID",    "ROOM_LIMIT",     "ALREADY_IN_ROOM", "NO_SUCH_USER",
    "LINE_TOO_LONG", "BAD_UTF8",    "BAD_CHAR",        "EMPTY",          "FLOOD",           "FLOOD_KICK",
    "IDLE_TIMEOUT", "REGISTRATION_TIMEOUT", "SERVER_FULL", "KICKED",     "SHUTDOWN",        "NICK_PROTECTED",
    "INTERNAL_ERROR",
};

const char* const kReasons[] = {"quit", "closed", "reset", "slow", "kicked", "flood", "idle", "registration", "error"};

// Command names a fuzzed policy may delegate (some are built-in commands, which stay built in).
const char* const kDelegates[] = {"register", "login", "msg", "group", "read", "unread", "passwd"};

struct World {
  ep::Bridge bridge;
  ep::Stats stats;
  std::unique_ptr<ep::Server> server;
  std::vector<uint64_t> old_ids;  // ids of clients of earlier inputs: closed and freed by now
  World() {
    signal(SIGPIPE, SIG_IGN);
    ep::Options opt;
    opt.host = "127.0.0.1";
    opt.port = 0;
    opt.max_clients = 64;
    // A certificate for the TLS peers (the listener's TLS ports stay off: peers are adopted).
    char dir[] = "/tmp/epchat-fuzz-session-XXXXXX";
    FUZZ_CHECK(mkdtemp(dir) != nullptr, "mkdtemp: %s", std::strerror(errno));
    FUZZ_CHECK(tlstest::make_cert(dir, "", "localhost", &opt.tls_cert, &opt.tls_key), "test certificate");
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

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return o;
}

bool room_syntax(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

// Splits s at the first `sep`: returns the part before, leaves the rest in s (empty if none).
std::string_view cut(std::string_view* s, char sep) {
  size_t i = s->find(sep);
  std::string_view head = s->substr(0, i);
  *s = i == std::string_view::npos ? std::string_view() : s->substr(i + 1);
  return head;
}

std::string_view strip_eol(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

// Printable ASCII only (policy help lines come from the host's configuration, which is validated).
std::string printable(std::string_view s) {
  std::string o;
  for (char c : s)
    if (c >= 0x20 && c < 0x7F) o.push_back(c);
  return o;
}

struct Peer {
  int fd = -1;  // our end of the socketpair
  int server_fd = -1;  // the engine's end (where sysio faults are armed)
  uint64_t id = 0;
  bool reads = true;
  bool eof = false;
  bool cut_ok = false;  // dropped as slow or reset: a last partial line is allowed
  bool tls = false;     // adopted as a TLS connection: its bytes are ciphertext (see the top)
  bool irc = false;     // adopted as an IRC connection (or a WebSocket speaking IRC)
  int ws = 0;           // a WebSocket: 0 no, 1 text.ircv3.net, 2 binary.ircv3.net, 3 epchat.line
  bool upgraded = false;  // the 101 was read
  bool ws_closed = false; // the server's Close was read
  std::string in;       // bytes to write
  size_t off = 0;
  std::string rx;       // received, not yet split into lines
};

struct Expect {
  std::string kind;                // "deliver", "kick", "users", "rooms"
  std::vector<std::string> asked;  // deliver: the nicks asked for; kick: the nick
  bool answered = false;
};

struct Session {
  World& w;
  std::vector<Peer> peers;
  std::set<std::string> nicks;       // every nick registered during this input (lower case)
  std::set<std::string> candidates;  // every word the clients typed and every nick the host logged in
  std::vector<std::string> typed;    // client lines, line ending removed (nicks a client may type)
  std::set<uint64_t> watched;        // ids logged in by the host or seen entering the password step
  std::set<std::string> protect_ever;
  std::set<std::string> delegate_ever = {"auth", "password"};
  std::set<std::string> injected;    // lines the harness had the engine send verbatim
  std::set<std::string> structured;  // lines well-formed structured host lines become (line protocol)
  size_t invalid_lines = 0;          // malformed host lines posted, not yet reported by an Error event
  std::map<uint32_t, Expect> expect;
  uint32_t next_req = 1;
  std::vector<std::string> auth_nicks;  // nicks clients typed that the server sent to the password step
  uint64_t last_auth_id = 0;
  bool lc_ever_off = false;  // lifecycle events were off at some point: event-learned nicks are partial
  bool lc_now = true;        // lifecycle_events in the last policy posted
  bool lc_pass = true;       // on at some point during the last pass (before or after its commands)
  ep::Policy pol;            // the last policy posted

  std::map<uint64_t, uint32_t> waiting;   // client id -> sequence number of its unfinished command
  std::map<uint64_t, uint32_t> last_seq;  // client id -> its last command's sequence number

  uint32_t users_req = 0;    // a users/rooms query pair posted together
  size_t users_count = 0;
  bool users_seen = false;

  bool peer_id(uint64_t id) const {
    for (const Peer& p : peers)
      if (p.id == id) return true;
    return false;
  }
  bool irc_id(uint64_t id) const {
    for (const Peer& p : peers)
      if (p.id == id) return p.irc;
    return false;
  }
  bool any_irc() const {
    for (const Peer& p : peers)
      if (p.irc) return true;
    return false;
  }

  bool known_nick(std::string_view n) const {
    std::string k = lower(n);
    return nicks.count(k) || (lc_ever_off && candidates.count(k));
  }

  Expect& answer(uint32_t req, const char* kind) {
    auto it = expect.find(req);
    FUZZ_CHECK(it != expect.end(), "reply with unknown req %u (kind %s)", req, kind);
    Expect& e = it->second;
    FUZZ_CHECK(!e.answered, "second reply for req %u", req);
    FUZZ_CHECK(e.kind == kind, "reply kind %s for a %s request", kind, e.kind.c_str());
    e.answered = true;
    return e;
  }

  void check_lifecycle(uint64_t id, const char* what) {
    FUZZ_CHECK(peer_id(id), "%s event for a client not of this input", what);
    if (!lc_pass)
      FUZZ_CHECK(watched.count(id), "%s event with lifecycle events off, for a client the host never logged in",
                 what);
  }

  // One handler per event kind (std::visit: a new kind must be handled here).
  struct Check {
    Session& s;
    void operator()(const ep::ev::Connect& e) const {
      s.check_lifecycle(e.id, "connect");
      FUZZ_CHECK(e.address.rfind("fuzz:", 0) == 0, "connect with address %s", e.address.c_str());
    }
    void operator()(const ep::ev::Register& e) const {
      s.check_lifecycle(e.id, "register");
      FUZZ_CHECK(fuzz::nick_syntax(e.nick), "register of a bad nick");
      s.nicks.insert(lower(e.nick));
    }
    void operator()(const ep::ev::Nick& e) const {
      s.check_lifecycle(e.id, "nick");
      FUZZ_CHECK(fuzz::nick_syntax(e.old) && fuzz::nick_syntax(e.nick), "nick event with a bad nick");
      s.nicks.insert(lower(e.nick));
    }
    void operator()(const ep::ev::Join& e) const {
      s.check_lifecycle(e.id, "join");
      FUZZ_CHECK(fuzz::nick_syntax(e.nick) && room_syntax(e.room), "join with a bad nick or room");
    }
    void operator()(const ep::ev::Leave& e) const {
      s.check_lifecycle(e.id, "leave");
      FUZZ_CHECK(fuzz::nick_syntax(e.nick) && room_syntax(e.room), "leave with a bad nick or room");
    }
    void operator()(const ep::ev::Message& e) const {
      FUZZ_CHECK(s.peer_id(e.id) && fuzz::nick_syntax(e.nick), "message event from a bad nick");
      FUZZ_CHECK(!s.waiting.count(e.id), "a message from a client whose command waits on the host");
    }
    void operator()(const ep::ev::Disconnect& e) const {
      s.check_lifecycle(e.id, "disconnect");
      bool known = false;
      for (const char* r : kReasons) known = known || e.reason == r;
      FUZZ_CHECK(known, "disconnect reason %s", e.reason.c_str());
      FUZZ_CHECK(e.nick.empty() || fuzz::nick_syntax(e.nick), "disconnect of a bad nick");
      if (e.reason == "slow" || e.reason == "reset")
        for (Peer& p : s.peers)
          if (p.id == e.id) p.cut_ok = true;
      s.waiting.erase(e.id);  // a closed client's command needs no finish
    }
    void operator()(const ep::ev::Timeout& e) const { s.check_lifecycle(e.id, "timeout"); }
    void operator()(const ep::ev::Command& e) const {
      FUZZ_CHECK(s.peer_id(e.id), "command from a client not of this input");
      FUZZ_CHECK(s.delegate_ever.count(e.name), "command event %s: never delegated", e.name.c_str());
      FUZZ_CHECK(!s.waiting.count(e.id), "command %s forwarded while the client's command %u waits", e.name.c_str(),
                 s.waiting.count(e.id) ? s.waiting[e.id] : 0);
      FUZZ_CHECK(e.seq > s.last_seq[e.id], "command sequence %u after %u", e.seq, s.last_seq[e.id]);
      s.last_seq[e.id] = e.seq;
      s.waiting[e.id] = e.seq;
      FUZZ_CHECK(!e.address.empty(), "command event without the client's address");
      s.watched.insert(e.id);  // a client that sent a delegated command is watched from then on
      if (e.name == "auth" || e.name == "password") {
        FUZZ_CHECK(e.nick.empty(), "%s from a registered client", e.name.c_str());
      } else {
        FUZZ_CHECK(e.nick.empty() || fuzz::nick_syntax(e.nick), "command from a bad nick");
      }
      if (e.name == "auth") {
        FUZZ_CHECK(fuzz::nick_syntax(e.args) && s.protect_ever.count(lower(e.args)), "auth for an unprotected nick");
        s.auth_nicks.push_back(e.args);
        s.last_auth_id = e.id;
      }
    }
    void operator()(const ep::ev::TlsReloadReply& e) const {
      FUZZ_CHECK(false, "a reloadTls reply (req %u) nobody asked for", e.req);
    }
    void operator()(const ep::ev::DeliverReply& e) const {
      Expect& x = s.answer(e.req, "deliver");
      // The offline nicks, in the order asked: a subsequence of the request.
      size_t j = 0;
      for (const std::string& n : e.offline) {
        while (j < x.asked.size() && x.asked[j] != n) ++j;
        FUZZ_CHECK(j < x.asked.size(), "deliver reported %s offline, not asked (or out of order)", n.c_str());
        ++j;
      }
      // A nick nobody can hold is never online.
      for (const std::string& n : x.asked) {
        if (fuzz::nick_syntax(n)) continue;
        bool listed = false;
        for (const std::string& o : e.offline) listed = listed || o == n;
        FUZZ_CHECK(listed, "deliver found an impossible nick online");
      }
    }
    void operator()(const ep::ev::KickReply& e) const {
      Expect& x = s.answer(e.req, "kick");
      if (e.kicked) FUZZ_CHECK(fuzz::nick_syntax(x.asked[0]) && s.known_nick(x.asked[0]), "kicked a nick nobody had");
    }
    void operator()(const ep::ev::UsersReply& e) const {
      s.answer(e.req, "users");
      std::set<std::string> seen;
      std::set<uint64_t> ids;
      for (const ep::UserRec& u : e.users) {
        FUZZ_CHECK(fuzz::nick_syntax(u.nick) && s.known_nick(u.nick), "users: bad or unknown nick");
        FUZZ_CHECK(seen.insert(lower(u.nick)).second, "users: nick twice");
        FUZZ_CHECK(ids.insert(u.id).second && s.peer_id(u.id), "users: id twice or not a client of this input");
        // An IRC user may be in no room (reported as ""), or in several (its first is reported).
        FUZZ_CHECK(room_syntax(u.room) || (u.room.empty() && s.irc_id(u.id)), "users: bad room");
      }
      if (e.req == s.users_req) {
        s.users_count = e.users.size();
        s.users_seen = true;
      }
    }
    void operator()(const ep::ev::RoomsReply& e) const {
      s.answer(e.req, "rooms");
      std::set<std::string> seen;
      size_t members = 0;
      bool lobby = false;
      for (const ep::RoomRec& r : e.rooms) {
        FUZZ_CHECK(room_syntax(r.name) && seen.insert(lower(r.name)).second, "rooms: bad or repeated room");
        lobby = lobby || r.name == "lobby";
        FUZZ_CHECK(r.members > 0 || r.name == "lobby", "rooms: an empty room other than the default one");
        members += r.members;
      }
      FUZZ_CHECK(lobby, "rooms: no default room");
      // Line users are in exactly one room each; IRC users in any number, so then the sums differ.
      if (e.req == s.users_req + 1 && s.users_seen && !s.any_irc())
        FUZZ_CHECK(members == s.users_count, "rooms count %zu members, users %zu", members, s.users_count);
    }
    void operator()(const ep::ev::Error& e) const {
      // Only a malformed structured line the harness posted may be reported, once each.
      FUZZ_CHECK(e.code == "EPCHAT_INVALID_ARGUMENT" && s.invalid_lines > 0, "unexpected error event %s %s",
                 e.code.c_str(), e.message.c_str());
      --s.invalid_lines;
    }
    void operator()(const ep::ev::Console& e) const { FUZZ_CHECK(false, "unexpected console event %s", e.text.c_str()); }
    void operator()(const ep::ev::Signal& e) const { FUZZ_CHECK(false, "unexpected signal event %s", e.name.c_str()); }
    void operator()(const ep::ev::Closed&) const { FUZZ_CHECK(false, "unexpected closed event"); }
  };

  void check_event(const ep::HostEvent& ev) { std::visit(Check{*this}, ev); }

  // Returns how many events the pass produced.
  size_t drain_events() {
    size_t n = 0;
    for (ep::HostEvent& ev : w.bridge.drain()) {
      ++n;
      check_event(ev);
    }
    return n;
  }

  void check_line(std::string_view line) {
    char shown[300];
    fuzz::dump(line.substr(0, 60), shown, sizeof shown);
    if (verbose()) std::fprintf(stderr, "  < %s\n", shown);
    if (injected.count(std::string(line))) return;
    if (structured.count(std::string(line))) {
      FUZZ_CHECK(fuzz::classify(line) == fuzz::Verdict::Ok, "a structured host line came out unclean: %s", shown);
      return;
    }
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
      FUZZ_CHECK(known_nick(nick), "pm with unregistered nick: %s", shown);
      return;
    }
    size_t colon = line.find(": ");
    FUZZ_CHECK(colon != std::string_view::npos, "line with no known prefix: %s", shown);
    std::string_view nick = line.substr(0, colon);
    FUZZ_CHECK(fuzz::nick_syntax(nick) && known_nick(nick), "chat line from no registered nick: %s", shown);
  }

  void check_irc_line(std::string_view line) {
    char shown[300];
    fuzz::dump(line.substr(0, 80), shown, sizeof shown);
    if (verbose()) std::fprintf(stderr, "  <irc %s\n", shown);
    FUZZ_CHECK(!line.empty() && line.back() == '\r', "IRC line not ended by CRLF: %s", shown);
    line.remove_suffix(1);
    ep::irc::Message m;
    ep::irc::ParseError e = ep::irc::parse(line, &m);
    FUZZ_CHECK(e == ep::irc::ParseError::None, "server IRC line does not parse (%s): %s", ep::irc::error_name(e), shown);
  }

  // What a raw TLS peer may receive: a TLS record (alert, handshake) or a plaintext answer.
  void check_tls_reply(const Peer& p) {
    if (p.rx.empty()) return;
    char shown[200];
    fuzz::dump(std::string_view(p.rx).substr(0, 60), shown, sizeof shown);
    auto starts = [&](std::string_view w) { return std::string_view(p.rx).substr(0, w.size()) == w.substr(0, p.rx.size()); };
    uint8_t b0 = static_cast<uint8_t>(p.rx[0]);
    FUZZ_CHECK(b0 == 0x15 || b0 == 0x16 || starts("!! TLS_REQUIRED ") || starts("ERROR :Closing link: ") ||
                   starts("HTTP/1.1 400 "),
               "a TLS peer got neither a TLS record nor a plaintext answer: %s", shown);
  }

  // A WebSocket peer's output: the 101 head, then server frames, each checked whole.
  void split_frames(Peer& p) {
    if (!p.upgraded) {
      size_t end = p.rx.find("\r\n\r\n");
      if (end == std::string::npos) return;
      char shown[200];
      fuzz::dump(std::string_view(p.rx).substr(0, 60), shown, sizeof shown);
      FUZZ_CHECK(p.rx.compare(0, 13, "HTTP/1.1 101 ") == 0, "upgrade not accepted: %s", shown);
      p.rx.erase(0, end + 4);
      p.upgraded = true;
    }
    size_t off = 0;
    for (;;) {
      const size_t n = p.rx.size() - off;
      if (n < 2) break;
      const uint8_t b0 = static_cast<uint8_t>(p.rx[off]), b1 = static_cast<uint8_t>(p.rx[off + 1]);
      uint64_t len = b1 & 0x7F;
      size_t h = 2;
      if (len == 126) {
        if (n < 4) break;
        len = (static_cast<uint64_t>(static_cast<uint8_t>(p.rx[off + 2])) << 8) | static_cast<uint8_t>(p.rx[off + 3]);
        h = 4;
        FUZZ_CHECK(len >= 126, "server frame length not minimal");
      } else if (len == 127) {
        if (n < 10) break;
        len = 0;
        for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<uint8_t>(p.rx[off + i]);
        h = 10;
        FUZZ_CHECK(len > 0xFFFF, "server frame length not minimal");
      }
      if (n < h + len) break;
      FUZZ_CHECK(!(b1 & 0x80), "server frame masked");
      FUZZ_CHECK((b0 & 0xF0) == 0x80, "server frame without FIN or with a reserved bit: %02x", b0);
      FUZZ_CHECK(!p.ws_closed, "a frame after the server's Close");
      const uint8_t op = b0 & 0x0F;
      std::string_view payload(p.rx.data() + off + h, static_cast<size_t>(len));
      off += h + static_cast<size_t>(len);
      if (verbose()) std::fprintf(stderr, "  <ws frame op %u len %zu\n", op, payload.size());
      if (op == 0xA) continue;  // a pong
      if (op == 0x8) {
        FUZZ_CHECK(payload.size() >= 2, "server Close without a code");
        uint16_t code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]));
        FUZZ_CHECK(ep::ws::valid_close_code(code), "server Close with code %u", code);
        p.ws_closed = true;
        continue;
      }
      FUZZ_CHECK(op == (p.ws == 2 ? 0x2 : 0x1), "data frame of opcode %u to a peer of subprotocol %d", op, p.ws);
      FUZZ_CHECK(payload.find('\n') == std::string_view::npos && !payload.empty(), "a message that is not one line");
      if (op == 0x1) {
        ep::ws::Utf8Stream u;
        FUZZ_CHECK(u.feed(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()) && u.complete(),
                   "a text frame that is not UTF-8");
      }
      if (p.irc) {
        check_irc_line(std::string(payload) + "\r");
      } else if (!injected_ws(payload)) {
        check_line(payload);
      }
    }
    p.rx.erase(0, off);
  }

  // A line the harness injected (Send, Announce), as a WebSocket text frame carries it: the line
  // ending removed, invalid UTF-8 replaced.
  bool injected_ws(std::string_view payload) {
    for (const std::string& l : injected) {
      std::string_view v = l;
      if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
      if (ep::repair_utf8(v) == payload) return true;
    }
    return false;
  }

  void split_lines(Peer& p) {
    if (p.tls) {
      check_tls_reply(p);
      return;
    }
    if (p.ws) return split_frames(p);
    size_t start = 0;
    for (;;) {
      size_t nl = p.rx.find('\n', start);
      if (nl == std::string::npos) break;
      if (p.irc) check_irc_line(std::string_view(p.rx).substr(start, nl - start));
      else check_line(std::string_view(p.rx).substr(start, nl - start));
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

  // One loop pass. Commands posted before it take effect during it, after any client input the
  // same pass handles first: a lifecycle setting counts as off for the pass only if it was off both
  // before and after.
  void pass() {
    bool before = lc_pass_after_;
    w.server->step(0);
    lc_pass = before || lc_now;
    lc_pass_after_ = lc_now;
  }
  bool lc_pass_after_ = true;

  // Steps until three passes in a row move nothing (bounded); the host finishes what waits on it.
  void settle(bool everyone) {
    int calm = 0;
    for (int i = 0; i < 2000 && calm < 3; ++i) {
      pass();
      size_t moved = read_all(everyone) + drain_events();
      if (!moved && !waiting.empty()) moved = finish_all();
      calm = moved ? 0 : calm + 1;
    }
  }

  void post_finish(uint64_t id, uint32_t seq, bool close) { w.bridge.post(ep::cmd::Finish{id, seq, close}); }

  // The host finishes every command waiting on it, as a real host does sooner or later.
  size_t finish_all() {
    size_t n = waiting.size();
    for (auto& kv : waiting) post_finish(kv.first, kv.second, false);
    waiting.clear();
    return n;
  }

  void post_policy(const ep::Policy& p) {
    pol = p;
    lc_now = p.lifecycle_events;
    if (!lc_now) lc_ever_off = true;
    for (const std::string& d : p.delegate) delegate_ever.insert(d);
    if (p.delegate_offline_msg) delegate_ever.insert("msg");
    w.bridge.post(ep::cmd::SetPolicy{std::make_shared<ep::Policy>(p)});
  }

  // Structured host lines from fuzzed text: pieces split on ';', one line each, of the kind m picks
  // (then the next kinds); fields split on ','. Mostly well formed (known codes and kinds), with
  // fuzzed codes, kinds and fields when m & 8. Records what each becomes on the line protocol, or
  // that the engine must report it.
  std::vector<ep::HostLine> make_lines(uint8_t m, std::string_view text) {
    static const char* const kKinds[] = {"MAIL", "GROUP", "MEMBER", "mail", "END"};
    std::vector<ep::HostLine> out;
    for (int i = 0; i < 4 && (i == 0 || !text.empty()); ++i) {
      std::string_view piece = cut(&text, ';');
      std::string f0(cut(&piece, ','));
      std::string rest(piece);
      switch ((m + i) % 6) {
        case 0: out.push_back(ep::line::Notice{f0 + rest}); break;
        case 1: out.push_back(ep::line::Error{(m & 8) ? f0 : kCodes[(m + i) % 6], rest}); break;
        case 2: {
          ep::line::List l{(m & 8) ? f0 : kKinds[(m >> 4) % 5], (m & 16) ? "ENDS" : ""};
          std::string_view r = rest;
          while (!r.empty() && l.rows.size() < 8) {
            std::string_view row = cut(&r, ',');
            std::vector<std::string> fields;
            for (int k = 0; k < 2 && !row.empty(); ++k) fields.emplace_back(cut(&row, ' '));
            if (!row.empty() || fields.empty()) fields.emplace_back(row);
            l.rows.push_back(std::move(fields));
          }
          out.push_back(std::move(l));
          break;
        }
        case 3: out.push_back(ep::line::Pm{f0, rest, m}); break;
        case 4: out.push_back(ep::line::PmSent{f0, rest}); break;
        default: {
          std::string_view r = rest;
          std::string g(cut(&r, ','));
          out.push_back(ep::line::Group{f0, g, std::string(r), 0});
          break;
        }
      }
    }
    for (const ep::HostLine& l : out) expect_line(l);
    return out;
  }

  void expect_line(const ep::HostLine& l) {
    std::string field;
    if (ep::host_line_problem(l, &field)) {
      ++invalid_lines;
      return;
    }
    if (auto* n = std::get_if<ep::line::Notice>(&l)) structured.insert(">> " + n->text);
    if (auto* e = std::get_if<ep::line::Error>(&l)) structured.insert("!! " + e->code + " " + e->text);
    if (auto* p = std::get_if<ep::line::Pm>(&l)) structured.insert("[pm from " + p->from + "] " + p->text);
    if (auto* p = std::get_if<ep::line::PmSent>(&l)) structured.insert("[pm to " + p->to + "] " + p->text);
    if (auto* g = std::get_if<ep::line::Group>(&l)) structured.insert("[@" + g->group + " from " + g->from + "] " + g->text);
    if (auto* li = std::get_if<ep::line::List>(&l)) {
      for (const auto& row : li->rows) {
        std::string t = "== " + li->kind;
        for (const std::string& f : row) t += " " + f;
        structured.insert(t);
      }
      structured.insert("== END " + (li->end.empty() ? li->kind : li->end) + " " + std::to_string(li->rows.size()));
    }
  }

  // Text the engine will send as is: its lines are excused from the clean-output check.
  // Send drops trailing newlines first (strip); Announce does not.
  void inject(std::string_view prefix, std::string_view text, bool strip = true) {
    while (strip && !text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\n') injected.insert(std::string());  // ends in an empty line
    injected.insert(std::string(prefix) + std::string(cut(&text, '\n')));
    while (!text.empty()) injected.insert(std::string(cut(&text, '\n')));
  }

  // A client id chosen by a byte: a peer (open or closed), the last client sent to the password
  // step, a client of an earlier input (freed), a slot nobody has, a live slot with the wrong
  // generation, or 0.
  uint64_t pick_id(uint8_t t) {
    switch (t & 7) {
      case 4: return last_auth_id;
      case 5: return w.old_ids.empty() ? 0 : w.old_ids[t % w.old_ids.size()];
      case 6: return (uint64_t{t} << 20) | (4096 + t);  // slot far beyond any used
      case 7: return peers[t % peers.size()].id + (uint64_t{1000} << 20);
      default: return peers[(t & 3) % peers.size()].id;
    }
  }

  std::string nth(const std::set<std::string>& s, uint8_t i) {
    if (s.empty()) return "nobody";
    auto it = s.begin();
    std::advance(it, i % s.size());
    return *it;
  }
  std::string typed_line(uint8_t i) { return typed.empty() ? "x" : typed[i % typed.size()]; }

  // A nick chosen by a byte (low 2 bits = source) from `field` or the session.
  std::string pick_nick(uint8_t m, std::string_view field) {
    std::string n;
    switch (m & 3) {
      case 0: n = std::string(field); break;               // as the input has it, valid or not
      case 1: n = nth(nicks, static_cast<uint8_t>(m >> 3)); break;  // someone registered
      case 2: n = auth_nicks.empty() ? std::string(field) : auth_nicks.back(); break;
      case 3: n = typed_line(static_cast<uint8_t>(m >> 3)); break;  // a line a client types
    }
    if (m & 4)  // another case
      for (char& c : n)
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) c = static_cast<char>(c ^ 0x20);
    return n;
  }

  void host_op(std::string_view line) {
    fuzz::Bytes b{reinterpret_cast<const uint8_t*>(line.data()), line.size()};
    uint8_t op = b.u8();
    if (op & 0x80) settle(false);
    std::string_view rest(reinterpret_cast<const char*>(b.p), b.n);  // (each case reads its bytes first)
    auto tail = [&b] { return std::string_view(reinterpret_cast<const char*>(b.p), b.n); };
    ep::HostCmd cmd;
    switch (static_cast<HostOp>((op & 0x7F) % kOpCount)) {
      case OpLogin: {
        uint8_t t = b.u8(), m = b.u8();
        ep::cmd::Login c{pick_id(t), pick_nick(m, tail())};
        watched.insert(c.id);
        candidates.insert(lower(c.nick));
        cmd = std::move(c);
        break;
      }
      case OpPrompt:
        cmd = ep::cmd::Prompt{pick_id(b.u8())};
        break;
      case OpProtect: {
        uint8_t m = b.u8();
        ep::cmd::Protect c;
        rest = tail();
        std::vector<std::string> names;
        if ((m & 6) == 0) {
          while (!rest.empty()) names.emplace_back(cut(&rest, ','));
        } else {
          names.push_back(pick_nick(static_cast<uint8_t>(m >> 1), rest));
        }
        for (const std::string& n : names) {
          if (m & 1) {
            c.remove.push_back(n);
          } else {
            c.add.push_back(n);
            protect_ever.insert(lower(n));
          }
        }
        cmd = std::move(c);
        break;
      }
      case OpDeliver: {
        uint8_t m = b.u8(), k = b.u8();
        ep::cmd::Deliver c;
        rest = tail();
        std::string_view names = cut(&rest, ' ');
        while (!names.empty()) c.nicks.emplace_back(cut(&names, ','));
        for (int i = 0; i < (m >> 4); ++i) c.nicks.push_back(nth(nicks, static_cast<uint8_t>(k + i)));
        if (m & 2) c.nicks.push_back(typed_line(k));
        if (m & 4) c.nicks.push_back("no such nick!");
        if (!(m & 1)) c.lines = make_lines(k, rest);  // else: only asks who is offline
        c.req = next_req++;
        expect[c.req] = Expect{"deliver", c.nicks};
        cmd = std::move(c);
        break;
      }
      case OpPolicy: {
        uint8_t len = b.u8(), fl = b.u8(), fk = b.u8(), q = b.u8(), dm = b.u8();
        ep::Policy p = pol;
        p.max_line = 16 + len * 16u;
        p.flood_rate = (fl & 1) ? 0.001 : 0;
        p.flood_burst = 1 + (fk & 15);
        p.flood_kick = 1 + (fk >> 4);
        p.quiet_room_size = (fl & 2) ? 1000 : (q & 3);
        p.lifecycle_events = !(fl & 4);
        p.delegate_offline_msg = fl & 8;
        p.emit_messages = fl & 16;
        p.auto_create_rooms = fl & 32;
        p.max_rooms = (fl & 64) ? 2 + (q >> 6) : 10000;
        p.nick_max = (fl & 128) ? 1 + ((q >> 2) & 15) : 24;
        p.delegate.clear();
        for (size_t i = 0; i < sizeof kDelegates / sizeof *kDelegates; ++i)
          if (dm & (1u << i)) p.delegate.insert(kDelegates[i]);
        rest = tail();
        std::string own = lower(printable(cut(&rest, ',')));
        if ((dm & 0x80) && !own.empty() && own.find(' ') == std::string::npos) p.delegate.insert(own);
        p.help.clear();
        for (int i = 0; i < 3 && !rest.empty(); ++i) p.help.push_back(printable(cut(&rest, ',')));
        post_policy(p);
        pass();
        read_all(false);
        return;
      }
      case OpSend: {
        ep::cmd::Send c{pick_id(b.u8())};
        c.text = std::string(tail());
        inject("", c.text);
        cmd = std::move(c);
        break;
      }
      case OpReply: {
        uint8_t t = b.u8(), m = b.u8();
        cmd = ep::cmd::Reply{pick_id(t), make_lines(m, tail())};
        break;
      }
      case OpKick: {
        uint8_t m = b.u8();
        rest = tail();
        std::string_view field = cut(&rest, ' ');
        ep::cmd::Kick c{next_req++, pick_nick(m, field), std::string(printable(rest))};
        expect[c.req] = Expect{"kick", {c.nick}};
        cmd = std::move(c);
        break;
      }
      case OpQuery: {
        users_req = next_req++;
        expect[users_req] = Expect{"users", {}};
        users_seen = false;
        w.bridge.post(ep::cmd::Query{users_req, ep::cmd::What::Users});
        uint32_t req = next_req++;
        expect[req] = Expect{"rooms", {}};
        cmd = ep::cmd::Query{req, ep::cmd::What::Rooms};
        break;
      }
      case OpAnnounce: {
        ep::cmd::Announce c{std::string(tail())};
        inject(">> [server] ", c.text, false);
        cmd = std::move(c);
        break;
      }
      case OpFinish: {
        // A client (pick_id), and for one whose command waits: its seq (m & 3 == 0), the one before
        // (stale), the one after (not issued yet) or 0; m & 4 closes it; m & 8 finishes twice.
        uint8_t t = b.u8(), m = b.u8();
        ep::cmd::Finish c{pick_id(t)};
        auto it = waiting.find(c.id);
        uint32_t seq = it != waiting.end() ? it->second : m;
        switch (m & 3) {
          case 1: seq -= 1; break;
          case 2: seq += 1; break;
          case 3: seq = 0; break;
          default: break;
        }
        c.seq = seq;
        c.close = m & 4;
        if (it != waiting.end() && (c.close || seq == it->second)) waiting.erase(it);
        if (m & 8) w.bridge.post(c);
        cmd = c;
        break;
      }
      case kOpCount:
        return;
    }
    FUZZ_CHECK(!std::holds_alternative<ep::cmd::Stop>(cmd), "no command chosen");  // Stop is never posted
    w.bridge.post(std::move(cmd));
    pass();
    read_all(false);
  }

  // A fault line (FF FD stripped): arms a sysio fault on a peer's server end, or acts as the peer.
  void fault_op(std::string_view line) {
    fuzz::Bytes b{reinterpret_cast<const uint8_t*>(line.data()), line.size()};
    uint8_t who = b.u8(), kind = b.u8(), n = b.u8(), arg = b.u8();
    Peer& p = peers[who % peers.size()];
    // A client failed on purpose may be dropped with its queue discarded, and with lifecycle
    // events off the harness would not hear why: a cut last line is excused for it.
    p.cut_ok = true;
    FaultPlan& plan = fault_hook().plans[p.server_fd];
    switch (static_cast<FaultKind>(kind % kFaultCount)) {
      case FaultSend:
        plan.send_in = n % 4;
        plan.send_errno = (const int[]){EPIPE, ECONNRESET, EIO}[arg % 3];
        plan.send_sticky = arg & 0x40;
        break;
      case FaultRead:
        plan.read_in = n % 4;
        plan.read_errno = arg % 2 ? EIO : ECONNRESET;
        break;
      case FaultShort:
        plan.short_calls = (n % 16) + 1;
        plan.short_cap = (arg % 64) + 1u;
        break;
      case FaultAgain:
        plan.again_calls = (n % 4) + 1;
        break;
      case FaultReset:
        if (p.fd >= 0) {
          ::close(p.fd);
          p.fd = -1;
        }
        break;
      case FaultHalfClose:
        if (p.fd >= 0) ::shutdown(p.fd, SHUT_WR);
        break;
      case FaultShutdown:
        plan.shutdown_fails = true;
        break;
      case FaultTightOutput: {
        ep::Policy tight = pol;
        tight.max_output = uint64_t{64} << (arg % 8);
        for (Peer& q : peers) q.cut_ok = true;  // anyone may now be dropped as slow
        post_policy(tight);
        break;
      }
      case FaultAllSend:
        for (Peer& q : peers) {
          q.cut_ok = true;
          FaultPlan& all = fault_hook().plans[q.server_fd];
          all.send_in = n % 4;
          all.send_errno = EPIPE;
          all.send_sticky = true;
        }
        break;
      case kFaultCount:
        break;
    }
    if (verbose()) std::fprintf(stderr, "  ! fault %d on client %zu\n", kind % kFaultCount, static_cast<size_t>(&p - peers.data()));
    if (arg & 0x80) {  // and let it fire now
      pass();
      read_all(false);
    }
  }

  // Writes every peer's pending bytes in chunks, a pass after each round.
  void write_all(fuzz::Chunker& ch) {
    for (int round = 0; round < 100000; ++round) {
      bool more = false, wrote = false;
      for (Peer& p : peers) {
        if (p.fd < 0 || p.off >= p.in.size()) continue;
        size_t n = ch.next();
        if (n > p.in.size() - p.off) n = p.in.size() - p.off;
        ssize_t wr = ::send(p.fd, p.in.data() + p.off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (wr > 0) p.off += static_cast<size_t>(wr), wrote = true;
        else if (wr < 0 && errno != EAGAIN && errno != EINTR) p.off = p.in.size();  // server closed it
        more = more || p.off < p.in.size();
      }
      pass();
      read_all(false);
      // A client whose command waits reads nothing: once its socket is full, the host answers.
      if (more && !wrote) finish_all();
      if (!more) break;
    }
  }
};

// A masked client frame (fixed key).
void ws_frame(std::string* out, uint8_t b0, std::string_view payload) {
  std::string f;
  ep::ws::append_header(ep::ws::Opcode::Text, payload.size(), &f);
  f[0] = static_cast<char>(b0);
  f[1] = static_cast<char>(f[1] | 0x80);
  const char key[4] = {0x37, 0x1c, 0x5a, 0x09};
  f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ key[i & 3]));
  out->append(f);
}

// What a WebSocket peer writes for one line of the input: the upgrade for its first, then a message
// per line (see the header), or raw bytes after FF FB.
void ws_wrap(Peer& p, std::string_view line) {
  if (p.in.empty()) {
    static const char* const kProto[] = {"", "text.ircv3.net", "binary.ircv3.net", "epchat.line"};
    p.in = "GET /ws HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: ";
    p.in += kProto[p.ws];
    p.in += "\r\n\r\n";
    return;
  }
  std::string_view text = line;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.size() >= 2 && static_cast<uint8_t>(text[0]) == 0xFF && static_cast<uint8_t>(text[1]) == 0xFB) {
    p.in.append(text.substr(2));  // without the input's line ending
    return;
  }
  ep::ws::Utf8Stream u;
  const bool utf8 = u.feed(reinterpret_cast<const uint8_t*>(text.data()), text.size()) && u.complete();
  const uint8_t op = utf8 ? 0x1 : 0x2;
  if (text.size() >= 4 && text.size() % 3 == 1) {  // two fragments, a ping between them
    size_t half = text.size() / 2;
    ws_frame(&p.in, op, text.substr(0, half));
    ws_frame(&p.in, 0x89, "fz");
    ws_frame(&p.in, 0x80, text.substr(half));
  } else {
    ws_frame(&p.in, 0x80 | op, text);
  }
}

bool host_line(std::string_view line) {
  return line.size() >= 2 && static_cast<uint8_t>(line[0]) == 0xFF && static_cast<uint8_t>(line[1]) == 0xFE;
}

bool fault_line(std::string_view line) {
  return line.size() >= 2 && static_cast<uint8_t>(line[0]) == 0xFF && static_cast<uint8_t>(line[1]) == 0xFD;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  fuzz::Bytes in{data, size};
  uint8_t flags = in.u8();
  fuzz::Chunker ch;
  for (auto& s : ch.seed) s = in.u8();
  if (in.n > 64 * 1024) return 0;  // keep runs short; long lines are covered by fuzz_line

  Session s{w};
  // Faults of an earlier input must not fire on this one's descriptors.
  fault_hook().plans.clear();
  ep::sysio::set_hook(&fault_hook());
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
  s.post_policy(pol);
  s.pass();

  size_t nclients = 1 + (flags & kClientsMask);
  s.peers.resize(nclients);
  {
    // Which clients speak IRC: those whose first line is an IRC registration command.
    std::string_view rest(reinterpret_cast<const char*>(in.p), in.n);
    size_t dealt = 0;
    while (!rest.empty() && dealt < nclients) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (host_line(line) || fault_line(line)) continue;
      for (std::string_view cmd : {"CAP ", "NICK ", "USER ", "PASS "})
        if (line.substr(0, cmd.size()) == cmd) s.peers[dealt].irc = true;
      if (line.substr(0, 1) == "\x16" || line.substr(0, 4) == "TLS ") s.peers[dealt].tls = true;
      if (line.substr(0, 4) == "GET ") {
        Peer& p = s.peers[dealt];
        p.ws = line.find("bin") != std::string_view::npos ? 2 : line.find("line") != std::string_view::npos ? 3 : 1;
        p.irc = p.ws != 3;
      }
      ++dealt;
    }
  }
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
    ep::Proto proto = s.peers[i].ws ? ep::Proto::Http : s.peers[i].irc ? ep::Proto::Irc : ep::Proto::Line;
    ep::Client* c = w.server->adopt(fds[0], addr.c_str(), proto, s.peers[i].tls);
    FUZZ_CHECK(c != nullptr, "adopt refused client %zu", i);
    s.peers[i].fd = fds[1];
    s.peers[i].server_fd = fds[0];
    s.peers[i].id = c->id();
  }

  // Split the input into lines; client lines are dealt round robin, host lines split the input into
  // segments: each segment's client bytes are written, then its host command runs.
  std::string_view payload(reinterpret_cast<const char*>(in.p), in.n);
  std::vector<std::string_view> hosts;
  std::vector<std::vector<size_t>> ends;  // after each host line: every peer's byte count
  size_t client_line = 0;
  for (size_t start = 0; start < payload.size();) {
    size_t nl = payload.find('\n', start);
    size_t end = nl == std::string_view::npos ? payload.size() : nl + 1;
    std::string_view line = payload.substr(start, end - start);
    start = end;
    if (host_line(line) || fault_line(line)) {
      hosts.push_back(strip_eol(line));
      ends.emplace_back();
      for (Peer& p : s.peers) ends.back().push_back(p.in.size());
      continue;
    }
    Peer& to = s.peers[client_line++ % nclients];
    if (to.ws) ws_wrap(to, line);
    else to.in.append(line);
    std::string_view text = strip_eol(line);
    s.typed.emplace_back(text);
    // The server drops a leading BOM (text.cc): "\xEF\xBB\xBFbob" registers bob.
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    std::string word;  // words split on blanks, as the server trims them
    for (char c : text) {
      if (c == ' ' || c == '\t') {
        if (!word.empty()) s.candidates.insert(lower(word));
        word.clear();
      } else {
        word.push_back(c);
      }
    }
    if (!word.empty()) s.candidates.insert(lower(word));
  }

  // Write segment by segment; a host command after each but the last.
  std::vector<std::string> all(nclients);
  for (size_t i = 0; i < nclients; ++i) all[i].swap(s.peers[i].in);
  for (size_t seg = 0; seg <= hosts.size(); ++seg) {
    for (size_t i = 0; i < nclients; ++i) {
      size_t to = seg < hosts.size() ? ends[seg][i] : all[i].size();
      s.peers[i].in.assign(all[i], 0, to);
    }
    s.write_all(ch);
    if (seg < hosts.size()) {
      if (fault_line(hosts[seg])) s.fault_op(hosts[seg].substr(2));
      else s.host_op(hosts[seg].substr(2));
    }
  }

  if ((flags & kAbort) && nclients > 1) {
    // Leaves while the server may still be writing to it.
    ::close(s.peers.back().fd);
    s.peers.back().fd = -1;
  }
  s.settle(false);

  if (flags & kHostOps) {
    w.bridge.post(ep::cmd::Announce{"fuzz announcement"});
    if (!s.nicks.empty()) {
      ep::cmd::Kick kick{s.next_req++, *s.nicks.begin(), "fuzz kick"};
      s.expect[kick.req] = Expect{"kick", {kick.nick}};
      w.bridge.post(std::move(kick));
    }
    s.settle(false);
  }

  // Every request was answered.
  for (auto& kv : s.expect)
    FUZZ_CHECK(kv.second.answered, "no reply to %s request %u", kv.second.kind.c_str(), kv.first);
  // Every malformed structured line was reported.
  FUZZ_CHECK(s.invalid_lines == 0, "%zu malformed host lines never reported", s.invalid_lines);

  // The slow reader finally reads what it was sent; then everyone leaves.
  s.read_all(true);
  for (Peer& p : s.peers) {
    if (p.fd < 0) continue;
    // With lifecycle events off the harness does not hear of a drop (slow) of a client the host
    // does not watch: a cut line is excused for the one client that can be dropped, the non-reader.
    if (s.lc_ever_off && !p.reads && !s.watched.count(p.id)) p.cut_ok = true;
    // A reader that kept up has every line whole once the server went quiet; so has anyone the
    // server closed, unless it was dropped (slow, reset) and its queue discarded.
    if (!p.cut_ok && !p.tls && (p.eof || p.reads)) {
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

  // The server is shared by every input: undo this input's protected nicks.
  if (!s.protect_ever.empty()) {
    ep::cmd::Protect unprotect;
    unprotect.remove.assign(s.protect_ever.begin(), s.protect_ever.end());
    w.bridge.post(std::move(unprotect));
    s.pass();
  }
  for (const Peer& p : s.peers) w.old_ids.push_back(p.id);
  if (w.old_ids.size() > 16) w.old_ids.erase(w.old_ids.begin(), w.old_ids.end() - 16);
  w.bridge.drain();
  fault_hook().plans.clear();
  return 0;
}
