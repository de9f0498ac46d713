#include "server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sysio.h"
#include "text.h"

namespace ep {

namespace {

constexpr uint32_t kSlotBits = 20;
constexpr uint32_t kMaxSlots = 1u << kSlotBits;
// After an orderly close, how long a socket may linger to deliver its last lines.
constexpr uint64_t kLingerMs = 2000;
// How long accepting pauses when the process is out of descriptors (and the spare descriptor is
// gone too), or when the listener cannot be put back into the epoll set.
constexpr uint64_t kAcceptPauseMs = 100;
// At most one report of accept trouble (out of descriptors, paused) per this many ms.
constexpr uint64_t kAcceptReportMs = 10000;
// Descriptors the engine needs besides its clients: epoll, listener, eventfd, signal pipe, spare,
// stdin/out/err, and what the host process (Node, SQLite, logs) keeps open.
constexpr uint64_t kFdReserve = 64;
// Reads per client per pass: enough to drain a burst, bounded so one client can't starve others.
constexpr int kReadsPerPass = 4;
// Extra non-blocking polls for input before a pass flushes its output.
constexpr int kInputRounds = 4;
// While shutting down, how often lingering clients are checked for acknowledged output.
constexpr uint64_t kShutdownPollMs = 10;

// True when everything written to fd has been acknowledged by the peer (TCP) or taken by it (a Unix
// socket): closing now loses nothing, even if unread input turns the close into a reset. True too
// when the socket cannot say.
bool delivered(int fd) {
  int queued = 0;
  if (ioctl(fd, SIOCOUTQ, &queued) < 0) return true;
  return queued == 0;
}

const char* errno_name(int e) {
  switch (e) {
    case EADDRINUSE: return "EADDRINUSE";
    case EACCES: return "EACCES";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    default: return "EIO";
  }
}

// The numeric host and the port of an IPv4 or IPv6 address; false for any other family.
bool addr_parts(const sockaddr_storage& ss, char (&host)[INET6_ADDRSTRLEN], int* port) {
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    *port = ntohs(a->sin_port);
    return true;
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    *port = ntohs(a->sin6_port);
    return true;
  }
  return false;
}

// "1.2.3.4:5678" or "[::1]:5678".
void format_addr(const sockaddr_storage& ss, char* out, size_t n) {
  char host[INET6_ADDRSTRLEN];
  int port;
  if (!addr_parts(ss, host, &port)) std::snprintf(out, n, "unknown");
  else if (ss.ss_family == AF_INET6) std::snprintf(out, n, "[%s]:%d", host, port);
  else std::snprintf(out, n, "%s:%d", host, port);
}

}  // namespace

uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t mono_ms() { return mono_ns() / 1000000u; }

Server::Server(const Options& opt, Bridge* bridge, Stats* stats)
    : opt_(opt), pol_(opt_.policy), bridge_(bridge), stats_(stats) {}

Server::~Server() {
  // Every client, closed ones included, is still in its slot until freed: delete through slots_ only.
  for (Client* c : slots_) {
    if (!c) continue;
    if (c->fd >= 0) ::close(c->fd);
    delete c;
  }
  closed_.clear();
  for (Listener& l : listeners_)
    if (l.fd >= 0) ::close(l.fd);
  if (spare_fd_ >= 0) ::close(spare_fd_);
  restore_signals();
  if (epfd_ >= 0) ::close(epfd_);
}

bool Server::open(std::string* code, std::string* msg) {
  auto fail = [&](int e, const char* what) {
    *code = errno_name(e);
    *msg = std::string(what) + " " + opt_.host + ":" + std::to_string(opt_.port) + ": " + std::strerror(e);
    return false;
  };
  raise_fd_limit();
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return fail(errno, "epoll_create1 for");
  if (!bridge_->ok()) return fail(EMFILE, "eventfd for");

  if (opt_.port < 0 && opt_.irc_port < 0) {
    *code = "EINVAL";
    *msg = "no listener: the line protocol's port and the IRC port are both off (-1)";
    return false;
  }
  if (opt_.port >= 0 && !bind_listener(0, code, msg)) return false;
  if (opt_.irc_port >= 0 && !bind_listener(1, code, msg)) return false;

  epoll_event ev = {};
  ev.events = EPOLLIN;
  // A descriptor kept in reserve: when accept() fails for want of descriptors, closing this one lets
  // the server take the connection and tell it SERVER_FULL instead of leaving it in the backlog.
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ev.data.u64 = tagged(kWake);
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, bridge_->wake_fd(), &ev) < 0) return fail(errno, "epoll_ctl for");

  if (opt_.handle_signals && !install_signals()) return fail(errno, "signal pipe for");
  if (opt_.console) {
    ev.data.u64 = tagged(kStdin);
    // A regular file or /dev/null cannot be polled (EPERM): run without a console then.
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0) {
      bridge_->emit(ev::Error{"EPCHAT_CONSOLE_UNAVAILABLE",
                     std::string("admin console disabled: stdin cannot be polled: ") + std::strerror(errno)});
    }
  }

  for (const std::string& n : opt_.protected_nicks) protected_.insert(text::lower(n));
  lobby_ = rooms_.create(opt_.default_room, true);
  stats_->rooms.set(rooms_.size());
  now_ms_ = mono_ms();
  stats_->start_ms.set(now_ms_);
  return true;
}

// Binds listener `which` (0: line on host:port, 1: IRC on irc_host:irc_port) and watches it.
bool Server::bind_listener(size_t which, std::string* code, std::string* msg) {
  Listener& l = listeners_[which];
  const std::string& host = which == 0 || opt_.irc_host.empty() ? opt_.host : opt_.irc_host;
  const int want_port = which == 0 ? opt_.port : opt_.irc_port;
  const char* what = which == 0 ? "" : "IRC ";
  auto fail = [&](int e, const char* doing) {
    *code = errno_name(e);
    *msg = std::string(doing) + " " + what + host + ":" + std::to_string(want_port) + ": " + std::strerror(e);
    return false;
  };
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(want_port);
  int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) {
    *code = "EADDRNOTAVAIL";
    *msg = "cannot resolve " + host + ": " + gai_strerror(gai);
    return false;
  }
  int err = 0;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, opt_.backlog) == 0) {
      l.fd = fd;
      break;
    }
    err = errno;
    ::close(fd);
  }
  freeaddrinfo(res);
  if (l.fd < 0) return fail(err ? err : EADDRNOTAVAIL, "cannot listen on");

  sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  if (getsockname(l.fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return fail(errno, "getsockname for");
  char bound[INET6_ADDRSTRLEN];
  if (addr_parts(ss, bound, &l.bound_port)) l.bound_host = bound;

  epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = tagged(kListen, which);
  if (sysio::epoll_ctl(epfd_, EPOLL_CTL_ADD, l.fd, &ev) < 0) return fail(errno, "epoll_ctl for");
  l.watched = true;
  return true;
}

void Server::close_listeners() {
  for (Listener& l : listeners_) {
    if (l.fd < 0) continue;
    if (l.watched && sysio::epoll_ctl(epfd_, EPOLL_CTL_DEL, l.fd, nullptr) != 0) report_epoll("removing a listener", errno);
    l.watched = false;
    ::close(l.fd);
    l.fd = -1;
  }
}

void Server::run() {
  bridge_->publish();  // what open() reported (descriptor limit, console), before the first wait
  while (!done_) step(-1);
}

bool Server::step(int max_wait_ms) {
  epoll_event evs[256];
  int wait = next_timeout_ms();
  if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms)) wait = max_wait_ms;
  int n = epoll_wait(epfd_, evs, 256, wait);
  if (n < 0 && errno != EINTR) {
    bridge_->emit(ev::Error{"EPCHAT_EPOLL", std::strerror(errno)});
    begin_shutdown(true);
  }
  now_ms_ = mono_ms();
  list_budget_ = kListBytesPerPass;
  on_events(evs, n);
  // Input first, then output: while more input is ready right now, read it before flushing, so that
  // under load a recipient gets several messages in one write rather than one write per message.
  // Bounded (kInputRounds) so output is never held back for more than a few quick polls.
  for (int round = 0; round < kInputRounds && n > 0 && dirty_; ++round) {
    n = epoll_wait(epfd_, evs, 256, 0);
    on_events(evs, n);
  }
  expire(now_ms_);
  flush_dirty();
  free_closed();
  if (stopping_ && (open_clients_ == 0 || now_ms_ >= stop_deadline_)) {
    for (Client* c : slots_)
      if (c && c->fd >= 0) finalize(c);
    free_closed();
    done_ = true;
    bridge_->emit(ev::Closed{stats_->snapshot(now_ms_)});
  }
  bridge_->publish();
  return !done_;
}

void Server::on_events(const epoll_event* evs, int n) {
  for (int i = 0; i < n; ++i) {
    uint64_t data = evs[i].data.u64;
    switch (static_cast<Tag>(data >> kTagShift)) {
      case kListen: on_accept(static_cast<size_t>(data & kIdMask) & 1); break;
      case kWake: on_host_commands(); break;
      case kSignal: on_signal_pipe(); break;
      case kStdin: on_console(); break;
      case kClient: {
        Client* c = lookup(data & kIdMask);
        if (c && c->fd >= 0) on_client(c, evs[i].events);
        break;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------- accept

Client* Server::adopt(int fd, const char* address, Proto proto) {
  if (stopping_ || open_clients_ >= opt_.max_clients) return nullptr;
  Client* c = alloc_client(fd);
  if (!c) return nullptr;
  std::snprintf(c->addr, sizeof c->addr, "%s", address);
  c->proto = proto;
  if (proto == Proto::Irc) {
    c->codec = &irc_codec_;
    c->irc = std::make_unique<IrcState>();
  }
  epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = tagged(kClient, c->id());
  if (sysio::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
    report_epoll("adding a client", errno);
    slots_[c->slot] = nullptr;
    free_slots_.push_back(c->slot);
    delete c;
    return nullptr;
  }
  ++open_clients_;
  stats_->connections.set(open_clients_);
  c->last_ms = now_ms_;
  reg_list_.push_back(c);
  lifecycle(c, ev::Connect{c->id(), c->addr});
  send(c, Out{OutKind::Prompt});  // nothing on IRC: the client speaks first
  return c;
}

void Server::on_accept(size_t which) {
  const Listener& l = listeners_[which];
  for (int i = 0; i < 64 && l.fd >= 0; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = sysio::accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) return;
      // Out of descriptors: with the spare one given back, the connection can at least be told.
      if (e == EMFILE || e == ENFILE) {
        int r = refuse_with_spare(which, e);
        if (r > 0) continue;   // refused one: there may be more
        if (r == 0) return;    // the backlog is empty
      }
      // Out of descriptors (no spare left) or memory: the pending connection stays in the backlog and
      // the listener stays readable, so polling it now would spin. Stop watching it for a moment.
      pause_accept(which, e, std::string("accept paused for ") + std::to_string(kAcceptPauseMs) + " ms: " + std::strerror(e));
      return;
    }
    stats_->accepted.add();
    if (open_clients_ >= opt_.max_clients || slots_.size() - free_slots_.size() >= kMaxSlots) {
      refuse(fd, "server is full (" + std::to_string(opt_.max_clients) + " clients), try again later");
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char addr[sizeof(Client::addr)];
    format_addr(ss, addr, sizeof addr);
    if (!adopt(fd, addr, l.proto)) sysio::close(fd);
  }
}

// Tells a connection it cannot be served (one best-effort write: the socket is new, its buffer is
// empty) and closes it.
void Server::refuse(int fd, const std::string& why) {
  std::string line = "!! SERVER_FULL " + why + "\n";
  ssize_t w = sysio::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)w;  // nothing more to do for a peer that cannot take 60 bytes
  sysio::close(fd);
  stats_->rejected_full.add();
}

// accept() failed with EMFILE/ENFILE: closes the spare descriptor, accepts the waiting connection
// with it, tells it SERVER_FULL, closes it and takes the spare back. 1: one refused; 0: nobody was
// waiting; -1: no spare, or it could not be used (then accepting pauses instead).
int Server::refuse_with_spare(size_t which, int e) {
  if (spare_fd_ < 0) return -1;
  sysio::close(spare_fd_);
  spare_fd_ = -1;
  int fd;
  do fd = sysio::accept4(listeners_[which].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (fd < 0 && (errno == EINTR || errno == ECONNABORTED || errno == EPROTO));
  int accept_errno = errno;
  if (fd >= 0) {
    stats_->accepted.add();
    refuse(fd, "server is out of file descriptors, try again later");
    report_accept(e, std::string("out of file descriptors (") + std::strerror(e) +
                         "): connections are refused with SERVER_FULL");
  }
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (spare_fd_ < 0) return -1;
  if (fd >= 0) return 1;
  return accept_errno == EAGAIN || accept_errno == EWOULDBLOCK ? 0 : -1;
}

void Server::pause_accept(size_t which, int e, const std::string& what) {
  Listener& l = listeners_[which];
  if (l.watched) {
    if (sysio::epoll_ctl(epfd_, EPOLL_CTL_DEL, l.fd, nullptr) == 0) l.watched = false;
    else report_epoll("removing the listener", errno);
  }
  accept_resume_ms_ = now_ms_ + kAcceptPauseMs;
  report_accept(e, what);
}

// At most one report per kAcceptReportMs, saying how many were held back since the last one: a server
// out of descriptors would otherwise log ten times a second.
void Server::report_accept(int e, const std::string& what) {
  if (accept_report_ms_ && now_ms_ < accept_report_ms_) {
    ++accept_suppressed_;
    return;
  }
  std::string msg = what;
  if (accept_suppressed_)
    msg += " (" + std::to_string(accept_suppressed_) + " similar in the last " +
           std::to_string(kAcceptReportMs / 1000) + " s not reported)";
  accept_suppressed_ = 0;
  accept_report_ms_ = now_ms_ + kAcceptReportMs;
  bridge_->emit(ev::Error{errno_name(e), std::move(msg)});
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

Client* Server::alloc_client(int fd) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(nullptr);
  }
  Client* c = new Client();
  c->slot = slot;
  c->gen = next_gen_++;
  if (next_gen_ >= (1u << 31)) next_gen_ = 1;  // ids stay below 2^51: exact in a JS number
  c->fd = fd;
  c->codec = &line_codec_;
  c->tokens = pol_.flood_burst;
  c->tokens_ms = now_ms_;
  slots_[slot] = c;
  return c;
}

Client* Server::lookup(uint64_t id) const {
  uint32_t slot = static_cast<uint32_t>(id & (kMaxSlots - 1));
  uint32_t gen = static_cast<uint32_t>(id >> kSlotBits);
  if (slot >= slots_.size()) return nullptr;
  Client* c = slots_[slot];
  return c && c->gen == gen ? c : nullptr;
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
  // Not reading while a command waits on the host: its later lines stay in the socket (and the end of
  // the stream behind them), so a half-close is seen only after every line before it has run.
  for (int i = 0; i < kReadsPerPass && c->fd >= 0 && c->reading; ++i) {
    ssize_t r = sysio::read(c->fd, rbuf_, sizeof rbuf_);
    if (r > 0) {
      stats_->bytes_in.add(static_cast<uint64_t>(r));
      if (c->state == ClientState::Closing) continue;  // lingering: discard
      feed(c, rbuf_, static_cast<size_t>(r), mono_ns());
      if (static_cast<size_t>(r) < sizeof rbuf_) return;
      continue;
    }
    if (r == 0) {
      c->peer_eof = true;
      if (c->state != ClientState::Closing) close_client(c, "closed");
      if (c->fd < 0) return;
      // Nothing left to say: close now rather than linger. Otherwise flush() closes after the last
      // byte; meanwhile stop reading, or the end of the stream (level-triggered) would be seen again
      // in this pass and close the socket before its replies are written.
      if (c->out.empty() || !set_reading(c, false)) finalize(c);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    close_client(c, "reset", true);
    return;
  }
}

void Server::feed(Client* c, const char* p, size_t n, uint64_t read_ns) {
  size_t used = n;
  // IRC: 512 bytes with CRLF, plus up to 8191 of tags (the parser checks each part).
  const size_t max = c->proto == Proto::Irc ? irc::kMaxBody + irc::kMaxTags : pol_.max_line;
  c->in.feed(
      p, n, max, [&](std::string_view line) { return on_line(c, line, read_ns); },
      [&]() {
        if (c->proto == Proto::Irc) irc_num(c, 417, {}, "Input line was too long");
        else error(c, "LINE_TOO_LONG", "line exceeds " + std::to_string(pol_.max_line) + " bytes; discarded");
        return true;
      },
      &used);
  if (!input_held(c) || c->fd < 0 || c->state == ClientState::Closing) return;
  // A line made c's input wait (on the host, or on its own list): the rest of this read waits with the socket. At most one read's
  // worth (the shared buffer's size) is held; the kernel's buffers and TCP flow control hold the rest.
  c->held.assign(p + used, n - used);
  if (!set_reading(c, false)) close_client(c, "error", true);
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
  if (accept_resume_ms_ && now >= accept_resume_ms_ && !stopping_) {
    accept_resume_ms_ = 0;
    if (spare_fd_ < 0) spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (size_t which = 0; which < 2; ++which) {
      Listener& l = listeners_[which];
      if (l.fd < 0 || l.watched) continue;
      epoll_event ev = {};
      ev.events = EPOLLIN;
      ev.data.u64 = tagged(kListen, which);
      if (sysio::epoll_ctl(epfd_, EPOLL_CTL_ADD, l.fd, &ev) == 0 || errno == EEXIST) {
        l.watched = true;
      } else {
        // Not watching the listener would stop accepting for good: try again after a pause.
        int e = errno;
        accept_resume_ms_ = now + kAcceptPauseMs;
        report_accept(e, std::string("cannot watch the listening socket again (epoll_ctl: ") + std::strerror(e) +
                             "); retrying every " + std::to_string(kAcceptPauseMs) + " ms");
      }
    }
  }
  if (pol_.registration_timeout_ms) {
    while (Client* c = reg_list_.head()) {
      if (c->last_ms + pol_.registration_timeout_ms > now) break;
      lifecycle(c, ev::Timeout{c->id(), "", "registration"});
      error(c, "REGISTRATION_TIMEOUT",
            "no nickname chosen within " + text::seconds(pol_.registration_timeout_ms) + "; disconnected");
      close_client(c, "registration");
    }
  }
  if (pol_.idle_timeout_ms) {
    irc_ping_idle(now);
    for (IList<Client>* list : {&idle_list_, &ping_list_}) {
      while (Client* c = list->head()) {
        if (c->last_ms + pol_.idle_timeout_ms > now) break;
        lifecycle(c, ev::Timeout{c->id(), c->nick, "idle"});
        error(c, "IDLE_TIMEOUT", "idle for " + text::seconds(pol_.idle_timeout_ms) + "; disconnected");
        close_client(c, "idle");
      }
    }
  }
  while (Client* c = linger_list_.head()) {
    if (c->last_ms + kLingerMs > now) break;
    finalize(c);
  }
  // Shutting down: a client told and flushed whose bytes the peer has acknowledged is done; the
  // process does not wait for each peer's FIN (up to kLingerMs) nor for the grace period.
  if (stopping_) {
    for (Client* c = linger_list_.head(); c;) {
      Client* next = c->link.next;
      if (c->wr_shut && delivered(c->fd)) finalize(c);
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
  uint64_t next = UINT64_MAX;
  auto consider = [&](uint64_t t) {
    if (t < next) next = t;
  };
  if (pol_.registration_timeout_ms && reg_list_.head())
    consider(reg_list_.head()->last_ms + pol_.registration_timeout_ms);
  if (pol_.idle_timeout_ms && idle_list_.head()) consider(idle_list_.head()->last_ms + pol_.idle_timeout_ms);
  if (pol_.idle_timeout_ms && ping_list_.head()) consider(ping_list_.head()->last_ms + pol_.idle_timeout_ms);
  if (pol_.idle_timeout_ms && irc_idle_list_.head())
    consider(irc_idle_list_.head()->last_ms + pol_.idle_timeout_ms - irc_ping_grace(pol_.idle_timeout_ms));
  if (linger_list_.head()) consider(linger_list_.head()->last_ms + kLingerMs);
  if (pol_.command_timeout_ms && wait_list_.head()) consider(wait_list_.head()->wait_ms + pol_.command_timeout_ms);
  if (accept_resume_ms_) consider(accept_resume_ms_);
  if (stopping_) consider(stop_deadline_);
  // While shutting down, look again soon for lingering clients whose last bytes have been acknowledged.
  if (stopping_ && linger_list_.head()) consider(now_ms_ + kShutdownPollMs);
  if (next == UINT64_MAX) return -1;
  uint64_t now = mono_ms();
  if (next <= now) return 0;
  uint64_t wait = next - now;
  return wait > 60000 ? 60000 : static_cast<int>(wait);
}

// ---------------------------------------------------------------------------------------- output

void Server::enqueue(Client* c, Buf* b) {
  if (c->fd < 0 || (c->state == ClientState::Closing && c->wr_shut)) return;
  if (!c->out.push(b)) {
    overflowed_.push_back(c);
    return;
  }
  if (c->out.bytes() > pol_.max_output) {
    // One pass can fan out a large burst: let a reader that keeps up take it now, before judging
    // it slow. Errors are left for the close that follows; nothing is closed mid-fan-out.
    size_t written = 0;
    int err = 0;
    FlushResult r = c->out.flush(c->fd, &written, &err);
    stats_->bytes_out.add(written);
    if (r == FlushResult::Error || c->out.bytes() > pol_.max_output) {
      overflowed_.push_back(c);
      return;
    }
  }
  if (!c->dirty && !c->want_write) {
    c->dirty = true;
    c->next_dirty = dirty_;
    dirty_ = c;
  }
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
  for (Client* c : slots_) {
    if (!c || c->state != ClientState::Active) continue;
    if (c->proto == Proto::Irc) {  // a NOTICE names its recipient
      send(c, o);
      continue;
    }
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
  while (Client* c = dirty_) {
    dirty_ = c->next_dirty;
    c->next_dirty = nullptr;
    c->dirty = false;
    if (c->fd >= 0) flush(c);
  }
}

// False when the epoll set refused the change: a client that cannot be woken for EPOLLOUT would
// wait forever, so the caller drops it.
bool Server::set_events(Client* c, bool want_write) {
  if (c->want_write == want_write) return true;
  c->want_write = want_write;
  return apply_events(c);
}

// Reading off takes EPOLLIN and EPOLLRDHUP out of the set (level-triggered, either would fire every
// pass); a reset still shows as EPOLLHUP / EPOLLERR, which epoll always reports.
bool Server::set_reading(Client* c, bool on) {
  if (c->reading == on) return true;
  c->reading = on;
  return apply_events(c);
}

bool Server::apply_events(Client* c) {
  epoll_event ev = {};
  ev.events = (c->reading ? static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP) : 0u) |
              (c->want_write ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.u64 = tagged(kClient, c->id());
  if (sysio::epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
    report_epoll("re-arming a client", errno);
    return false;
  }
  return true;
}

void Server::flush(Client* c) {
  size_t written = 0;
  int err = 0;
  FlushResult r = c->out.flush(c->fd, &written, &err);
  stats_->bytes_out.add(written);
  bool listing = c->list != nullptr;
  if (r == FlushResult::Done && listing) {
    r = list_more(c, &written, &err);  // the next chunk of a list reply, only now the queue is empty
    stats_->bytes_out.add(written);
  }
  if (r == FlushResult::Done && !set_events(c, false)) r = FlushResult::Error;
  if (r == FlushResult::Blocked && !set_events(c, true)) r = FlushResult::Error;
  switch (r) {
    case FlushResult::Done:
      if (c->state == ClientState::Closing && !c->wr_shut) {
        // Everything said: send FIN, then wait (lingering) for the peer's, so that bytes it is still
        // sending don't turn our close into a reset that could destroy the lines we just sent.
        // A failed shutdown (the peer is gone: ENOTCONN) leaves nothing to wait for.
        c->wr_shut = true;
        if (sysio::shutdown(c->fd, SHUT_WR) != 0 || c->peer_eof || (stopping_ && delivered(c->fd))) finalize(c);
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
  lifecycle(c, ev::Disconnect{c->id(), c->nick, reason});
  unlink_timer(c);
  stop_waiting(c);
  std::string().swap(c->held);
  if (c->state == ClientState::Active) detach(c);
  c->state = ClientState::Closing;
  // Lingering reads again: to discard what the peer still sends and to see its FIN.
  if (!discard_output && !set_reading(c, true)) discard_output = true;
  if (discard_output) {
    c->out.clear();
    finalize(c);
    return;
  }
  c->last_ms = now_ms_;
  linger_list_.push_back(c);
  if (!c->dirty && !c->want_write) {
    c->dirty = true;
    c->next_dirty = dirty_;
    dirty_ = c;
  }
}

void Server::finalize(Client* c) {
  if (c->fd < 0) return;
  if (c->state != ClientState::Closing) close_client(c, "closed", true);
  if (c->fd < 0) return;  // close_client finalized it
  unlink_timer(c);
  // Closing the descriptor takes it out of the epoll set anyway; a failed DEL is only reported.
  if (sysio::epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr) != 0) report_epoll("removing a client", errno);
  sysio::close(c->fd);
  c->fd = -1;
  c->out.clear();
  --open_clients_;
  stats_->connections.set(open_clients_);
  closed_.push_back(c);
}

void Server::free_closed() {
  size_t kept = 0;
  for (Client* c : closed_) {
    // Still linked on the flush list (not expected: flush_dirty drains it first): free it later.
    if (c->dirty) {
      closed_[kept++] = c;
      continue;
    }
    slots_[c->slot] = nullptr;
    free_slots_.push_back(c->slot);
    delete c;
  }
  closed_.resize(kept);
}

void Server::begin_shutdown(bool force) {
  if (!stopping_) {
    stopping_ = true;
    stop_deadline_ = now_ms_ + (force ? 0 : opt_.shutdown_grace_ms);
    close_listeners();
    accept_resume_ms_ = 0;
    for (Client* c : slots_) {
      if (!c || c->fd < 0 || c->state == ClientState::Closing) continue;
      error(c, "SHUTDOWN", "server is shutting down");
      close_client(c, "shutdown");
    }
  } else if (force) {
    stop_deadline_ = now_ms_;
  }
}

}  // namespace ep
