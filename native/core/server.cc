#include "server.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "text.h"
#include "tls_transport.h"

namespace ep {

namespace {

// After an orderly close, how long a socket may linger to deliver its last lines.
constexpr uint64_t kLingerMs = 2000;
// Descriptors the engine needs besides its clients: epoll, listener, eventfd, signal pipe, spare,
// stdin/out/err, and what the host process (Node, SQLite, logs) keeps open.
constexpr uint64_t kFdReserve = 64;
// Reads per client per pass: enough to drain a burst, bounded so one client can't starve others.
constexpr int kReadsPerPass = 4;
// Extra non-blocking polls for input before a pass flushes its output.
constexpr int kInputRounds = 4;
// While shutting down, how often lingering clients are checked for acknowledged output.
constexpr uint64_t kShutdownPollMs = 10;
// The ciphertext read buffer every TLS connection shares (TlsTransport reads into it).
constexpr size_t kTlsScratch = 64 * 1024;

}  // namespace

uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t mono_ms() { return mono_ns() / 1000000u; }

Server::Server(const Options& opt, Bridge* bridge, Stats* stats)
    : opt_(opt),
      pol_(opt_.policy),
      bridge_(bridge),
      stats_(stats),
      host_channel_(loop_, bridge, [this](std::vector<HostCmd>& cmds) { on_host_commands(cmds); }) {}

// Members go in reverse order: the clients (closing their sockets), the console, the signal handlers
// (restored), the listeners, the host channel, and the epoll set last.
Server::~Server() = default;

const Listener* Server::listener(Proto p, bool tls) const {
  for (const auto& l : listeners_)
    if (l->protocol() == p && l->tls() == tls) return l.get();
  return nullptr;
}

const std::string& Server::bound_host() const {
  static const std::string none;
  const Listener* l = listener(Proto::Line, false);
  return l ? l->bound_host() : none;
}

int Server::bound_port() const {
  const Listener* l = listener(Proto::Line, false);
  return l ? l->bound_port() : -1;
}

const std::string& Server::irc_bound_host() const {
  static const std::string none;
  const Listener* l = listener(Proto::Irc, false);
  return l ? l->bound_host() : none;
}

int Server::irc_bound_port() const {
  const Listener* l = listener(Proto::Irc, false);
  return l ? l->bound_port() : -1;
}

bool Server::reload_tls(std::string* msg) {
  if (!tls_ctx_) {
    *msg = "TLS is not configured (no tlsCert/tlsKey)";
    return false;
  }
  TlsLoadResult err;
  std::shared_ptr<const TlsContext> next = TlsContext::load(tls_ctx_->config(), &err);
  if (!next) {
    *msg = err.message + "; the previous certificate stays in use";
    return false;
  }
  tls_ctx_ = std::move(next);
  return true;
}

const std::string& Server::http_bound_host() const {
  static const std::string none;
  const Listener* l = listener(Proto::Http, false);
  return l ? l->bound_host() : none;
}

int Server::http_bound_port() const {
  const Listener* l = listener(Proto::Http, false);
  return l ? l->bound_port() : -1;
}

bool Server::open(std::string* code, std::string* msg) {
  auto fail = [&](int e, const char* what) {
    *code = errno_name(e);
    *msg = std::string(what) + " " + opt_.host + ":" + std::to_string(opt_.port) + ": " + std::strerror(e);
    return false;
  };
  raise_fd_limit();
  if (!loop_.open()) return fail(errno, "epoll_create1 for");
  if (!host_channel_.open()) return fail(errno, bridge_->ok() ? "epoll_ctl for" : "eventfd for");
  // The listeners, one row each: (protocol, host, port, TLS). A port of -1 leaves that one off. Any
  // protocol can be served over TLS: another TLS listener is one more row.
  const std::string& irc_host = opt_.irc_host.empty() ? opt_.host : opt_.irc_host;
  const std::string& http_host = opt_.http_host.empty() ? opt_.host : opt_.http_host;
  struct ListenerSpec {
    Proto proto;
    const std::string& host;
    int port;
    bool tls;
    const char* label;  // before the address in errors
  };
  const ListenerSpec specs[] = {
      {Proto::Line, opt_.host, opt_.port, false, ""},
      {Proto::Irc, irc_host, opt_.irc_port, false, "IRC "},
      {Proto::Line, opt_.host, opt_.tls_port, true, "TLS "},
      {Proto::Irc, irc_host, opt_.irc_tls_port, true, "IRC TLS "},
      {Proto::Http, http_host, opt_.http_port, false, "HTTP "},
      {Proto::Http, http_host, opt_.https_port, true, "HTTPS "},
  };
  bool any = false, any_tls = false;
  for (const ListenerSpec& s : specs) {
    any = any || s.port >= 0;
    any_tls = any_tls || (s.port >= 0 && s.tls);
  }
  if (!any) {
    *code = "EINVAL";
    *msg = "no listener: the line protocol's port, the IRC port and the HTTP port are all off (-1)";
    return false;
  }
  if (opt_.tls_cert.empty() != opt_.tls_key.empty()) {
    *code = "EPCHAT_TLS";
    *msg = "TLS needs both a certificate (tlsCert) and a key (tlsKey)";
    return false;
  }
  if (any_tls && opt_.tls_cert.empty()) {
    *code = "EPCHAT_TLS";
    *msg = "a TLS port is set but no certificate: set tlsCert and tlsKey (epchat cert makes a development one)";
    return false;
  }
  if (!opt_.tls_cert.empty()) {
    TlsLoadResult err;
    tls_ctx_ = TlsContext::load(TlsConfig{opt_.tls_cert, opt_.tls_key}, &err);
    if (!tls_ctx_) {
      *code = "EPCHAT_TLS";
      *msg = err.message;
      return false;
    }
    tls_scratch_ = std::make_unique<char[]>(kTlsScratch);
  }
  for (const ListenerSpec& s : specs) {
    if (s.port < 0) continue;
    listeners_.push_back(std::make_unique<Listener>(loop_, bridge_, stats_, static_cast<ListenerHost*>(this), s.proto,
                                                    s.tls, now_ms_));
    if (!listeners_.back()->open(s.host, s.port, opt_.backlog, s.label, code, msg)) return false;
  }
  ws_cfg_.origins = opt_.ws_origins;
  ws_cfg_.protocols = {kWsIrcText, kWsIrcBinary, kWsLine};
  ws_cfg_.deflate = opt_.ws_deflate;
  for (WsCodec* z : {&wsz_line_codec_, &wsz_irc_codec_, &wsz_irc_tagged_codec_, &wsz_irc_bin_codec_,
                     &wsz_irc_bin_tagged_codec_})
    z->set_deflate_min(opt_.ws_deflate_min);
  if ((opt_.http_port >= 0 || opt_.https_port >= 0) && !opt_.web_root.empty()) {
    // Advice, like EPCHAT_FD_LIMIT: the listener runs (WebSocket works), but every file will be 404.
    struct stat st;
    if (::stat(opt_.web_root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      bridge_->emit(ev::Error{"EPCHAT_WEB_ROOT", "webRoot " + opt_.web_root +
                                                     " is not a directory (build the web client with npm run "
                                                     "build:web): every file is answered 404"});
  }
  if (opt_.handle_signals) {
    signals_ = std::make_unique<SignalPipe>(loop_, [this](int signo, const char* name) {
      bridge_->emit(ev::Signal{name});
      if (signo == SIGINT || signo == SIGTERM) begin_shutdown(false);
    });
    if (!signals_->install()) return fail(errno, "signal pipe for");
  }
  if (opt_.console) {
    console_ = std::make_unique<Console>(loop_, bridge_, stats_, static_cast<ConsoleHost*>(this), now_ms_);
    console_->open();
  }

  for (const std::string& n : opt_.protected_nicks) protected_.insert(text::lower(n));
  lobby_ = rooms_.create(opt_.default_room, true);
  stats_->rooms.set(rooms_.size());
  now_ms_ = mono_ms();
  stats_->start_ms.set(now_ms_);
  return true;
}

void Server::run() {
  bridge_->publish();  // what open() reported (descriptor limit, console), before the first wait
  while (!done_) step(-1);
}

// One pass: wait for events (at most until the next timer) and run their handlers, read more input
// while it keeps coming, run the timers, flush every connection with output queued, then free what
// was closed during the pass.
bool Server::step(int max_wait_ms) {
  int wait = next_timeout_ms();
  if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms)) wait = max_wait_ms;
  int n = loop_.wait(wait);
  if (n < 0) {
    bridge_->emit(ev::Error{"EPCHAT_EPOLL", std::strerror(errno)});
    begin_shutdown(true);
  }
  now_ms_ = mono_ms();
  list_budget_ = kListBytesPerPass;
  loop_.dispatch(n);
  // Input first, then output: while more input is ready right now, read it before flushing, so that
  // under load a recipient gets several messages in one write rather than one write per message.
  // Bounded (kInputRounds) so output is never held back for more than a few quick polls.
  for (int round = 0; round < kInputRounds && n > 0 && conns_.any_dirty(); ++round) {
    n = loop_.wait(0);
    loop_.dispatch(n);
  }
  read_pending();
  expire(now_ms_);
  flush_dirty();
  conns_.free_retired();
  loop_.end_pass();
  if (stopping_ && (open_clients_ == 0 || now_ms_ >= stop_deadline_)) {
    for (Client* c : conns_.all())
      if (c && c->fd >= 0) finalize(c);
    conns_.free_retired();
    loop_.end_pass();
    done_ = true;
    bridge_->emit(ev::Closed{stats_->snapshot(now_ms_)});
  }
  bridge_->publish();
  return !done_;
}

// ---------------------------------------------------------------------------------------- connections

Client* Server::adopt(int fd, const char* address, Proto proto, bool tls) {
  if (stopping_ || open_clients_ >= opt_.max_clients) return nullptr;
  if (tls && !tls_ctx_) return nullptr;  // not from a listener: a TLS listener means a context
  Client* c = new Client();
  conns_.insert(c);
  c->codec = &line_codec_;
  c->tokens = pol_.flood_burst;
  c->tokens_ms = now_ms_;
  std::snprintf(c->addr, sizeof c->addr, "%s", address);
  c->proto = proto;
  if (proto == Proto::Irc) {
    c->codec = &irc_codec_;
    c->irc = std::make_unique<IrcState>();
  }
  if (proto == Proto::Http) c->http = std::make_unique<HttpSession>();
  if (!c->attach(loop_, fd, this)) {
    report_epoll("adding a client", errno);
    conns_.discard(c);
    return nullptr;
  }
  ++open_clients_;
  stats_->connections.set(open_clients_);
  c->last_ms = now_ms_;
  if (tls) {
    TlsLimits limits;
    PlaintextKind fallback = proto == Proto::Irc    ? PlaintextKind::Irc
                             : proto == Proto::Http ? PlaintextKind::Http
                                                    : PlaintextKind::Unknown;
    c->use_tls(std::make_unique<TlsTransport>(fd, *tls_ctx_, limits, tls_scratch_.get(), kTlsScratch, fallback));
    // The handshake first (its own, shorter deadline); registration's (or the HTTP head's) counts
    // from its end.
    handshake_list_.push_back(c);
    if (proto == Proto::Http) return c;
  } else if (proto == Proto::Http) {
    // Not a chat client (yet): no connect event, no prompt; a request head within http_timeout_ms.
    http_list_.push_back(c);
    return c;
  } else {
    reg_list_.push_back(c);
  }
  lifecycle(c, ev::Connect{c->id(), c->addr});
  send(c, Out{OutKind::Prompt});  // nothing on IRC: the client speaks first
  return c;
}

bool Server::accept_full(std::string* why) {
  if (open_clients_ < opt_.max_clients && !conns_.full()) return false;
  *why = "server is full (" + std::to_string(opt_.max_clients) + " clients), try again later";
  return true;
}

bool Server::accept_connection(int fd, const char* address, Proto p, bool tls) {
  return adopt(fd, address, p, tls) != nullptr;
}

void Server::report_epoll(const char* what, int e) {
  bridge_->emit(ev::Error{"EPCHAT_EPOLL", std::string("epoll_ctl ") + what + ": " + std::strerror(e)});
}

// Like Redis: a server for many connections should not be held to a distribution's default soft
// limit (often 1024) when the hard limit allows more. Then it says so if maxClients cannot fit.
void Server::raise_fd_limit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t before = rl.rlim_cur;
  if (rl.rlim_cur < rl.rlim_max) {
    // An unlimited hard limit is not a valid soft one for descriptors (nr_open caps it).
    rlim_t want[] = {rl.rlim_max, rlim_t{1} << 20, rlim_t{1} << 16};
    for (rlim_t w : want) {
      if (w <= rl.rlim_cur || w > rl.rlim_max) continue;
      rlimit n{w, rl.rlim_max};
      if (setrlimit(RLIMIT_NOFILE, &n) == 0) {
        rl.rlim_cur = w;
        break;
      }
    }
  }
  if (rl.rlim_cur == RLIM_INFINITY || opt_.max_clients + kFdReserve <= rl.rlim_cur) return;
  uint64_t fit = rl.rlim_cur > kFdReserve ? rl.rlim_cur - kFdReserve : 0;
  std::string msg = "maxClients is " + std::to_string(opt_.max_clients) + " but the descriptor limit is " +
                    std::to_string(rl.rlim_cur);
  if (before != rl.rlim_cur) msg += " (raised from " + std::to_string(before) + ", the hard limit)";
  else if (rl.rlim_cur == rl.rlim_max) msg += " (the hard limit)";
  msg += ": about " + std::to_string(fit) +
         " clients fit; past that, connections are refused with SERVER_FULL. Raise the limit (ulimit -n, "
         "LimitNOFILE=) or lower maxClients";
  bridge_->emit(ev::Error{"EPCHAT_FD_LIMIT", std::move(msg)});
}

// ---------------------------------------------------------------------------------------- input

void Server::on_client(Client* c, uint32_t events) {
  if (!c->reading && (events & (EPOLLHUP | EPOLLERR))) {
    // Not reading (a command waits on the host, or the peer's FIN was read while replies drain), and
    // the connection is gone (reset, or closed both ways): nothing can reach the peer any more. A
    // half-close is no HUP: the lines before it wait, unread, and get their replies.
    if (c->state == ClientState::Closing) finalize(c);
    else close_client(c, "reset", true);
    return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) on_readable(c);
  if (c->fd >= 0 && (events & EPOLLOUT)) flush(c);
}

void Server::on_readable(Client* c) {
  read_input(c);
  if (c->fd < 0) return;
  if (c->tls) after_tls_read(c);
  list_pending_read(c);
}

// Input the transport holds (taken off the socket already) is not announced by epoll: c is read
// again from the pending-read list, next pass, while it reads at all.
void Server::list_pending_read(Client* c) {
  if (c->fd < 0 || !c->reading || c->read_listed || !c->transport->read_pending()) return;
  c->read_listed = true;
  pending_reads_.push_back(c);
}

void Server::after_tls_read(Client* c) {
  if (c->tls->take_handshake_done()) {
    stats_->tls_handshakes.add();
    if (c->link.list == 6) {  // handshake_list_
      handshake_list_.remove(c);
      c->last_ms = now_ms_;
      if (c->http) http_list_.push_back(c);  // HTTPS: now the request head's deadline
      else reg_list_.push_back(c);
    }
    conns_.mark_dirty(c);  // what was queued meanwhile (the prompt) can be encrypted now
  }
  if (c->transport->want_write()) conns_.mark_dirty(c);
}

void Server::read_pending() {
  ClientIds list;
  list.swap(pending_reads_);
  while (!list.empty()) {
    Client* c = lookup(list.pop());
    if (!c) continue;
    c->read_listed = false;
    if (c->fd >= 0 && c->reading && c->transport->read_pending()) on_readable(c);
  }
}

// A TLS connection failed (bad handshake, plaintext client, TLS error): TlsTransport has sent the
// plaintext answer or the alert; only this connection ends.
void Server::tls_failed(Client* c) {
  TlsError e = c->tls->session().error();
  if (e == TlsError::Plaintext || e == TlsError::NotTls) stats_->tls_plaintext.add();
  else stats_->tls_failed.add();
  close_client(c, "error", true);
}

void Server::read_input(Client* c) {
  // Not reading while a command waits on the host: its later lines stay in the socket (and the end of
  // the stream behind them), so a half-close is seen only after every line before it has run.
  for (int i = 0; i < kReadsPerPass && c->fd >= 0 && c->reading; ++i) {
    ssize_t r = c->read(rbuf_, sizeof rbuf_);
    if (r > 0) {
      stats_->bytes_in.add(static_cast<uint64_t>(r));
      if (c->state == ClientState::Closing) continue;  // lingering: discard
      feed(c, rbuf_, static_cast<size_t>(r), mono_ns());
      if (static_cast<size_t>(r) < sizeof rbuf_ && !c->transport->read_pending()) return;
      continue;
    }
    if (r == 0) {
      c->peer_eof = true;
      if (c->state != ClientState::Closing) close_client(c, "closed");
      if (c->fd < 0) return;
      // Nothing left to say: close now rather than linger. Otherwise flush() closes after the last
      // byte; meanwhile stop reading, or the end of the stream (level-triggered) would be seen again
      // in this pass and close the socket before its replies are written.
      if (!c->output_pending() || !set_reading(c, false)) finalize(c);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == EPROTO && c->tls && c->state != ClientState::Closing) {
      tls_failed(c);
      return;
    }
    close_client(c, "reset", true);
    return;
  }
}

void Server::feed(Client* c, char* p, size_t n, uint64_t read_ns) {
  // The framing decides what a line is: an HTTP request head (until an upgrade), a WebSocket
  // message, or a TCP line.
  size_t used = c->http ? http_feed(c, p, n, read_ns)
                : c->ws   ? ws_feed(c, p, n, read_ns)
                          : feed_lines(c, p, n, read_ns);
  if (!input_held(c) || c->fd < 0 || c->state == ClientState::Closing) return;
  // A line made c's input wait (on the host, or on its own list): the rest of this read waits with the socket. At most one read's
  // worth (the shared buffer's size) is held; the kernel's buffers and TCP flow control hold the rest.
  c->held.assign(p + used, n - used);
  if (!set_reading(c, false)) close_client(c, "error", true);
}

size_t Server::feed_lines(Client* c, const char* p, size_t n, uint64_t read_ns) {
  size_t used = n;
  // IRC: 512 bytes with CRLF, plus up to 8191 of tags (the parser checks each part).
  const size_t max = c->proto == Proto::Irc ? irc::kMaxBody + irc::kMaxTags : pol_.max_line;
  c->in.feed(
      p, n, max, [&](std::string_view line) { return on_line(c, line, read_ns); },
      [&]() { return line_too_long(c); }, &used);
  return used;
}

bool Server::line_too_long(Client* c) {
  if (c->proto == Proto::Irc) irc_num(c, 417, {}, "Input line was too long");
  else error(c, "LINE_TOO_LONG", "line exceeds " + std::to_string(pol_.max_line) + " bytes; discarded");
  return true;
}

bool Server::take_line(Client* c, std::string_view line, uint64_t read_ns) {
  const size_t max = c->proto == Proto::Irc ? irc::kMaxBody + irc::kMaxTags : pol_.max_line;
  if (line.size() > max) return line_too_long(c);
  return on_line(c, line, read_ns);
}

bool Server::on_line(Client* c, std::string_view line, uint64_t read_ns) {
  stats_->messages_in.add();
  touch(c);
  if (!flood_ok(c)) return c->state != ClientState::Closing;
  if (c->proto == Proto::Irc) {
    irc_line(c, line);
    drop_overflowed();
    stats_->latency.record((mono_ns() - read_ns) / 1000);
    return c->state != ClientState::Closing && !input_held(c);
  }
  line = text::strip_bom(line);
  switch (text::check_line(line)) {
    case text::Check::BadUtf8:
      error(c, "BAD_UTF8", "line is not valid UTF-8; not sent");
      return true;
    case text::Check::ControlChar:
      error(c, "BAD_CHAR", "line contains a control character; not sent");
      return true;
    case text::Check::Spoof:
      error(c, "BAD_CHAR",
            "line contains a bidirectional control or line separator (U+202A-U+202E, U+2066-U+2069, "
            "U+2028, U+2029); not sent");
      return true;
    case text::Check::Ok:
      break;
  }
  dispatch(c, line);
  drop_overflowed();
  stats_->latency.record((mono_ns() - read_ns) / 1000);
  return c->state != ClientState::Closing && !input_held(c);
}

bool Server::flood_ok(Client* c) {
  if (pol_.flood_rate <= 0) return true;
  double elapsed = static_cast<double>(now_ms_ - c->tokens_ms) / 1000.0;
  c->tokens_ms = now_ms_;
  c->tokens += elapsed * pol_.flood_rate;
  if (c->tokens > pol_.flood_burst) c->tokens = pol_.flood_burst;
  if (c->tokens >= 1) {
    c->tokens -= 1;
    c->dropped = 0;
    return true;
  }
  if (++c->dropped >= pol_.flood_kick) {
    error(c, "FLOOD_KICK", "too many lines too fast; disconnected");
    close_client(c, "flood");
  } else {
    error(c, "FLOOD", "too many lines; slow down (line dropped)");
  }
  return false;
}

void Server::unlink_timer(Client* c) {
  switch (c->link.list) {
    case 0: reg_list_.remove(c); break;
    case 1: idle_list_.remove(c); break;
    case 2: linger_list_.remove(c); break;
    case 4: irc_idle_list_.remove(c); break;
    case 5: ping_list_.remove(c); break;
    case 6: handshake_list_.remove(c); break;
    case 7: http_list_.remove(c); break;
    default: break;
  }
}

// Activity moves a registered user to the tail of the idle list. The registration deadline counts
// from the connection, so a client sending bad nicknames cannot hold a slot forever.
void Server::touch(Client* c) {
  if (c->state != ClientState::Active) return;
  c->last_ms = now_ms_;
  if (c->proto == Proto::Irc) {
    // IRC users wait on their own lists: pinged when idle, before the idle timeout.
    unlink_timer(c);
    c->irc->pinged = false;
    irc_idle_list_.push_back(c);
    return;
  }
  idle_list_.move_to_back(c);
}

// ---------------------------------------------------------------------------------------- timers

void Server::expire(uint64_t now) {
  for (auto& l : listeners_) l->expire(now);
  if (pol_.tls_handshake_timeout_ms) {
    while (Client* c = static_cast<Client*>(handshake_list_.head())) {
      if (c->last_ms + pol_.tls_handshake_timeout_ms > now) break;
      stats_->tls_timeouts.add();
      lifecycle(c, ev::Timeout{c->id(), "", "registration"});
      close_client(c, "registration", true);  // nothing to say: no TLS session to say it in
    }
  }
  if (pol_.registration_timeout_ms) {
    while (Client* c = static_cast<Client*>(reg_list_.head())) {
      if (c->last_ms + pol_.registration_timeout_ms > now) break;
      lifecycle(c, ev::Timeout{c->id(), "", "registration"});
      error(c, "REGISTRATION_TIMEOUT",
            "no nickname chosen within " + text::seconds(pol_.registration_timeout_ms) + "; disconnected");
      close_client(c, "registration");
    }
  }
  if (pol_.idle_timeout_ms) {
    irc_ping_idle(now);
    for (Inactivity* list : {&idle_list_, &ping_list_}) {
      while (Client* c = static_cast<Client*>(list->head())) {
        if (c->last_ms + pol_.idle_timeout_ms > now) break;
        lifecycle(c, ev::Timeout{c->id(), c->nick, "idle"});
        error(c, "IDLE_TIMEOUT", "idle for " + text::seconds(pol_.idle_timeout_ms) + "; disconnected");
        close_client(c, "idle");
      }
    }
  }
  while (Client* c = static_cast<Client*>(http_list_.head())) {
    if (c->last_ms + opt_.http_timeout_ms > now) break;
    http_timeout(c);
  }
  while (Client* c = static_cast<Client*>(linger_list_.head())) {
    if (c->last_ms + kLingerMs > now) break;
    finalize(c);
  }
  // Shutting down: a client told and flushed whose bytes the peer has acknowledged is done; the
  // process does not wait for each peer's FIN (up to kLingerMs) nor for the grace period.
  if (stopping_) {
    for (Client* c = static_cast<Client*>(linger_list_.head()); c;) {
      Client* next = static_cast<Client*>(c->link.next);
      if (c->wr_shut && c->delivered()) finalize(c);
      c = next;
    }
  }
  // A host that never finishes a command must not hold its client forever.
  if (pol_.command_timeout_ms) {
    while (Client* c = wait_list_.head()) {
      if (c->wait_ms + pol_.command_timeout_ms > now) break;
      error(c, "INTERNAL_ERROR", "the server did not answer your command in time; disconnected");
      close_client(c, "error");
    }
  }
  drop_overflowed();
}

int Server::next_timeout_ms() const {
  Deadline next;
  if (!pending_reads_.empty()) next.consider(now_ms_);  // input waits in a transport: no sleeping
  if (pol_.tls_handshake_timeout_ms && handshake_list_.head())
    next.consider(handshake_list_.head()->last_ms + pol_.tls_handshake_timeout_ms);
  if (pol_.registration_timeout_ms && reg_list_.head())
    next.consider(reg_list_.head()->last_ms + pol_.registration_timeout_ms);
  if (pol_.idle_timeout_ms && idle_list_.head()) next.consider(idle_list_.head()->last_ms + pol_.idle_timeout_ms);
  if (pol_.idle_timeout_ms && ping_list_.head()) next.consider(ping_list_.head()->last_ms + pol_.idle_timeout_ms);
  if (pol_.idle_timeout_ms && irc_idle_list_.head())
    next.consider(irc_idle_list_.head()->last_ms + pol_.idle_timeout_ms - irc_ping_grace(pol_.idle_timeout_ms));
  if (linger_list_.head()) next.consider(linger_list_.head()->last_ms + kLingerMs);
  if (http_list_.head()) next.consider(http_list_.head()->last_ms + opt_.http_timeout_ms);
  if (pol_.command_timeout_ms && wait_list_.head())
    next.consider(wait_list_.head()->wait_ms + pol_.command_timeout_ms);
  for (const auto& l : listeners_)
    if (l->resume_at()) next.consider(l->resume_at());
  if (stopping_) next.consider(stop_deadline_);
  // While shutting down, look again soon for lingering clients whose last bytes have been acknowledged.
  if (stopping_ && linger_list_.head()) next.consider(now_ms_ + kShutdownPollMs);
  return next.timeout_ms(mono_ms());
}

// ---------------------------------------------------------------------------------------- output

void Server::enqueue(Client* c, Buf* b) {
  if (c->fd < 0 || (c->state == ClientState::Closing && c->wr_shut)) return;
  if (c->ws && c->ws->close_sent) return;  // a WebSocket's Close frame is its last
  if (!c->out.push(b)) {
    overflowed_.push_back(c);
    return;
  }
  if (c->out.bytes() > pol_.max_output) {
    // One pass can fan out a large burst: let a reader that keeps up take it now, before judging
    // it slow. Errors are left for the close that follows; nothing is closed mid-fan-out.
    size_t written = 0;
    int err = 0;
    FlushResult r = c->write_out(&written, &err);
    stats_->bytes_out.add(written);
    if (r == FlushResult::Error || c->out.bytes() > pol_.max_output) {
      overflowed_.push_back(c);
      return;
    }
  }
  conns_.mark_dirty(c);
}

void Server::enqueue_copy(Client* c, std::string_view bytes) {
  Buf* b = Buf::make(bytes.data(), bytes.size());
  if (!b) {
    overflowed_.push_back(c);
    return;
  }
  enqueue(c, b);
  b->unref();
}

void Server::send(Client* c, const Out& o) {
  Out mine = o;
  if (mine.to.empty()) mine.to = c->state == ClientState::Active ? std::string_view(c->nick) : std::string_view("*");
  bool empty = false;
  Buf* b = c->codec->format(mine, &empty);
  if (!b) {
    if (!empty) overflowed_.push_back(c);
    return;
  }
  enqueue(c, b);
  b->unref();
}

void Server::error(Client* c, std::string_view code, std::string_view text) {
  send(c, Out{OutKind::Error, code, {}, text});
}

void Server::fanout(Room* r, const Out& o, Client* except, bool count_deliveries, uint64_t stamp, bool irc_only) {
  Buf* formatted[Codec::kMax] = {};
  bool empty[Codec::kMax] = {};
  uint64_t n = 0;
  for (Client* m : r->members) {
    if (m == except) continue;
    if (irc_only && m->proto != Proto::Irc) continue;
    if (stamp) {
      if (m->mark == stamp) continue;
      m->mark = stamp;
    }
    int id = m->codec->id();
    Buf*& b = formatted[id];
    if (empty[id]) continue;
    if (!b && !(b = m->codec->format(o, &empty[id]))) {
      if (!empty[id]) overflowed_.push_back(m);
      continue;
    }
    enqueue(m, b);
    ++n;
  }
  for (Buf* b : formatted)
    if (b) b->unref();
  if (count_deliveries) stats_->deliveries.add(n);
}

void Server::fanout_all(const Out& o) {
  Buf* formatted[Codec::kMax] = {};
  for (Client* c : conns_.all()) {
    if (!c || c->state != ClientState::Active) continue;
    // Once per codec, IRC's too (its NOTICE names the server mask, not each recipient: irc_codec.cc).
    Buf*& b = formatted[c->codec->id()];
    if (!b && !(b = c->codec->format(o))) continue;
    enqueue(c, b);
  }
  for (Buf* b : formatted)
    if (b) b->unref();
}

// Clients whose queue passed maxOutputBytes are not reading: drop them alone, discarding what they
// were owed. Closing one tells its room, which may overflow another, hence the loop.
void Server::drop_overflowed() {
  while (!overflowed_.empty()) {
    // By id: the client may have been finalized and freed since it was queued (e.g. its own write
    // failed later in the flush that queued it).
    Client* c = lookup(overflowed_.pop());
    if (!c || c->fd < 0 || c->state == ClientState::Closing) continue;
    stats_->dropped_slow.add();
    close_client(c, "slow", true);
  }
}

void Server::flush_dirty() {
  while (Client* c = conns_.pop_dirty())
    if (c->fd >= 0) flush(c);
}

// False when the epoll set refused the change (reported): a client that cannot be woken (for EPOLLOUT,
// or for input again) would wait forever, so the caller drops it.
bool Server::set_events(Client* c, bool want_write) {
  if (c->set_want_write(loop_, want_write)) return true;
  report_epoll("re-arming a client", errno);
  return false;
}

bool Server::set_reading(Client* c, bool on) {
  if (c->set_reading(loop_, on)) return true;
  report_epoll("re-arming a client", errno);
  return false;
}

void Server::flush(Client* c) {
  size_t written = 0;
  int err = 0;
  FlushResult r = c->write_out(&written, &err);
  stats_->bytes_out.add(written);
  bool listing = c->list != nullptr;
  if (r == FlushResult::Done && listing) {
    r = list_more(c, &written, &err);  // the next chunk of a list reply, only now the queue is empty
    stats_->bytes_out.add(written);
  }
  if (r == FlushResult::Done && !set_events(c, false)) r = FlushResult::Error;
  // Blocked by a TLS handshake, not by the socket: EPOLLOUT would fire at once, every pass; the
  // handshake's end flushes it (after_tls_read).
  if (r == FlushResult::Blocked && !set_events(c, !c->transport->write_waits_for_read())) r = FlushResult::Error;
  switch (r) {
    case FlushResult::Done:
      // Closing and everything said: FIN, then linger for the peer's (connection.h, end_output).
      if (c->state == ClientState::Closing && !c->wr_shut) {
        if (c->end_output(stopping_)) finalize(c);
        // The transport's own goodbye (TLS close_notify, then FIN) waits for the socket.
        else if (c->transport->want_write() && !set_events(c, true)) finalize(c);
      }
      break;
    case FlushResult::Blocked:
      break;
    case FlushResult::Error:
      if (c->state == ClientState::Closing) finalize(c);
      else close_client(c, "reset", true);
      break;
  }
  // The list is over (its END line queued): the lines that waited behind it run now. Here, after this
  // flush's own work; what they queue is flushed in this pass (flush_dirty picks c up again).
  if (listing && !c->list && c->fd >= 0 && c->state == ClientState::Active && !input_held(c)) resume_input(c);
}

// ---------------------------------------------------------------------------------------- lifetimes

void Server::close_client(Client* c, const char* reason, bool discard_output) {
  if (c->state == ClientState::Closing || c->fd < 0) return;
  if (!c->http) lifecycle(c, ev::Disconnect{c->id(), c->nick, reason});  // a page load is no chat client
  unlink_timer(c);
  stop_waiting(c);
  std::string().swap(c->held);
  if (c->state == ClientState::Active) detach(c);
  c->state = ClientState::Closing;
  // A TLS connection whose handshake never completed has no session to say anything in.
  if (c->tls && !c->tls->session().handshake_complete()) discard_output = true;
  // Lingering reads again: to discard what the peer still sends and to see its FIN.
  if (!discard_output && !set_reading(c, true)) discard_output = true;
  if (discard_output) {
    c->out.clear();
    finalize(c);
    return;
  }
  // A WebSocket ends with a Close frame after its last lines (the ERROR line, the reason).
  if (c->ws) ws_close_frame(c, reason);
  c->last_ms = now_ms_;
  linger_list_.push_back(c);
  conns_.mark_dirty(c);
}

void Server::finalize(Client* c) {
  if (c->fd < 0) return;
  if (c->state != ClientState::Closing) close_client(c, "closed", true);
  if (c->fd < 0) return;  // close_client finalized it
  unlink_timer(c);
  // Closing the descriptor takes it out of the epoll set anyway; a failed DEL is only reported.
  if (!c->close_fd(loop_)) report_epoll("removing a client", errno);
  --open_clients_;
  stats_->connections.set(open_clients_);
  conns_.retire(c);  // freed after the pass
}

void Server::begin_shutdown(bool force) {
  if (!stopping_) {
    stopping_ = true;
    stop_deadline_ = now_ms_ + (force ? 0 : opt_.shutdown_grace_ms);
    for (auto& l : listeners_) l->close();
    for (Client* c : conns_.all()) {
      if (!c || c->fd < 0 || c->state == ClientState::Closing) continue;
      if (!c->http) error(c, "SHUTDOWN", "server is shutting down");  // HTTP: its response is done or moot
      close_client(c, "shutdown");
    }
  } else if (force) {
    stop_deadline_ = now_ms_;
  }
}

}  // namespace ep
