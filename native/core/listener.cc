#include "listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "bridge.h"
#include "http_response.h"
#include "stats.h"
#include "sysio.h"

namespace ep {

namespace {

// How long accepting pauses when the process is out of descriptors (and the spare descriptor is
// gone too), or when the listener cannot be put back into the epoll set.
constexpr uint64_t kAcceptPauseMs = 100;
// At most one report of accept trouble (out of descriptors, paused) per this many ms.
constexpr uint64_t kAcceptReportMs = 10000;
// Connections accepted per readiness event: a burst is drained, but one listener cannot starve the rest.
constexpr int kAcceptsPerEvent = 64;

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

int open_spare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

const char* errno_name(int e) {
  switch (e) {
    case EADDRINUSE: return "EADDRINUSE";
    case EACCES: return "EACCES";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EPERM: return "EPERM";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    default: return "EIO";
  }
}

void refuse_connection(int fd, const std::string& why, Stats* stats, Proto p) {
  // An HTTP client (a browser) gets a 503 it can show; the others the line protocol's error.
  std::string line = p == Proto::Http ? http::error_response(503, why) : "!! SERVER_FULL " + why + "\n";
  ssize_t w = sysio::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)w;  // nothing more to do for a peer that cannot take 60 bytes
  sysio::close(fd);
  stats->rejected_full.add();
}

Listener::Listener(Loop& loop, Bridge* bridge, Stats* stats, ListenerHost* host, Proto p, bool tls,
                   const uint64_t& now_ms)
    : loop_(loop), bridge_(bridge), stats_(stats), host_(host), protocol_(p), tls_(tls), now_ms_(now_ms) {}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

bool Listener::open(const std::string& host, int port, int backlog, const char* label, std::string* code,
                    std::string* msg) {
  auto fail = [&](int e, const char* what) {
    *code = errno_name(e);
    *msg = std::string(what) + " " + label + host + ":" + std::to_string(port) + ": " + std::strerror(e);
    return false;
  };
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), port_s.c_str(), &hints, &res);
  if (gai != 0) {
    *code = "EADDRNOTAVAIL";
    *msg = "cannot resolve " + host + ": " + gai_strerror(gai);
    return false;
  }
  // Every address the host resolves to is tried in turn; the first that listens is kept. When none
  // does, the error is the last one, naming the call that failed (socket, setsockopt, bind, listen).
  int err = 0;
  const char* failed = "bind";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = sysio::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      failed = "socket";
      continue;
    }
    int one = 1;
    const char* step = nullptr;
    if (sysio::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) step = "setsockopt SO_REUSEADDR";
    else if (sysio::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) step = "bind";
    else if (sysio::listen(fd, backlog) != 0) step = "listen";
    if (!step) {
      fd_ = fd;
      break;
    }
    err = errno;
    failed = step;
    sysio::close(fd);
  }
  freeaddrinfo(res);
  if (fd_ < 0) {
    int e = err ? err : EADDRNOTAVAIL;
    *code = errno_name(e);
    *msg = std::string("cannot listen on ") + label + host + ":" + std::to_string(port) + ": " + failed + ": " +
           std::strerror(e);
    return false;
  }

  sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return fail(errno, "getsockname for");
  char h[INET6_ADDRSTRLEN];
  if (addr_parts(ss, h, &bound_port_)) bound_host_ = h;

  if (!watch()) return fail(errno, "epoll_ctl for");
  // A descriptor kept in reserve: when accept() fails for want of descriptors, closing this one lets
  // the server take the connection and tell it SERVER_FULL instead of leaving it in the backlog.
  spare_fd_ = open_spare();
  return true;
}

bool Listener::watch() {
  reg_ = loop_.add(fd_, EPOLLIN, this);
  return reg_ != 0;
}

void Listener::on_io(uint32_t, void*) {
  for (int i = 0; i < kAcceptsPerEvent && fd_ >= 0; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = sysio::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) return;
      // Out of descriptors: with the spare one given back, the connection can at least be told.
      if (e == EMFILE || e == ENFILE) {
        int r = refuse_with_spare(e);
        if (r > 0) continue;   // refused one: there may be more
        if (r == 0) return;    // the backlog is empty
      }
      // Out of descriptors (no spare left) or memory: the pending connection stays in the backlog and
      // the listener stays readable, so polling it now would spin. Stop watching it for a moment.
      pause(e, std::string("accept paused for ") + std::to_string(kAcceptPauseMs) + " ms: " + std::strerror(e));
      return;
    }
    stats_->accepted.add();
    std::string why;
    if (host_->accept_full(&why)) {
      refuse_connection(fd, why, stats_, protocol_);
      continue;
    }
    int one = 1;
    // Without TCP_NODELAY the connection still works (lines may wait for Nagle): kept, and said.
    if (sysio::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
      int e = errno;
      report(e, std::string("setsockopt TCP_NODELAY on an accepted connection: ") + std::strerror(e));
    }
    char addr[64];
    format_addr(ss, addr, sizeof addr);
    if (!host_->accept_connection(fd, addr, protocol_, tls_)) sysio::close(fd);
  }
}


// accept() failed with EMFILE/ENFILE: closes the spare descriptor, accepts the waiting connection
// with it, tells it SERVER_FULL, closes it and takes the spare back. 1: one refused; 0: nobody was
// waiting; -1: no spare, or it could not be used (then accepting pauses instead).
int Listener::refuse_with_spare(int e) {
  if (spare_fd_ < 0) return -1;
  sysio::close(spare_fd_);
  spare_fd_ = -1;
  int fd;
  do fd = sysio::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (fd < 0 && (errno == EINTR || errno == ECONNABORTED || errno == EPROTO));
  int accept_errno = errno;
  if (fd >= 0) {
    stats_->accepted.add();
    refuse_connection(fd, "server is out of file descriptors, try again later", stats_, protocol_);
    report(e, std::string("out of file descriptors (") + std::strerror(e) +
                  "): connections are refused with SERVER_FULL");
  }
  spare_fd_ = open_spare();
  if (spare_fd_ < 0) return -1;
  if (fd >= 0) return 1;
  return accept_errno == EAGAIN || accept_errno == EWOULDBLOCK ? 0 : -1;
}

void Listener::pause(int e, const std::string& what) {
  if (reg_) {
    if (!loop_.remove(reg_)) report_epoll("removing the listener", errno);
    reg_ = 0;  // out of the set either way: a failed DEL leaves a stale id, whose events are skipped
  }
  resume_ms_ = now_ms_ + kAcceptPauseMs;
  report(e, what);
}

void Listener::expire(uint64_t now) {
  if (!resume_ms_ || now < resume_ms_ || fd_ < 0) return;
  resume_ms_ = 0;
  if (spare_fd_ < 0) spare_fd_ = open_spare();
  if (reg_) return;
  if (watch() || errno == EEXIST) return;
  // Not watching the listener would stop accepting for good: try again after a pause.
  int e = errno;
  resume_ms_ = now + kAcceptPauseMs;
  report(e, std::string("cannot watch the listening socket again (epoll_ctl: ") + std::strerror(e) +
                "); retrying every " + std::to_string(kAcceptPauseMs) + " ms");
}

void Listener::close() {
  if (fd_ < 0) return;
  if (reg_ && !loop_.remove(reg_)) report_epoll("removing the listener", errno);
  reg_ = 0;
  ::close(fd_);
  fd_ = -1;
  resume_ms_ = 0;
}

// At most one report per kAcceptReportMs, saying how many were held back since the last one: a server
// out of descriptors would otherwise log ten times a second.
void Listener::report(int e, const std::string& what) {
  if (report_ms_ && now_ms_ < report_ms_) {
    ++suppressed_;
    return;
  }
  std::string msg = what;
  if (suppressed_)
    msg += " (" + std::to_string(suppressed_) + " similar in the last " + std::to_string(kAcceptReportMs / 1000) +
           " s not reported)";
  suppressed_ = 0;
  report_ms_ = now_ms_ + kAcceptReportMs;
  bridge_->emit(ev::Error{errno_name(e), std::move(msg)});
}

void Listener::report_epoll(const char* what, int e) {
  bridge_->emit(ev::Error{"EPCHAT_EPOLL", std::string("epoll_ctl ") + what + ": " + std::strerror(e)});
}

}  // namespace ep
