// A listening socket as a loop handler: binds host:port, accepts connections and hands each to its
// ListenerHost (the server) with the listener's protocol. Several may run at once, one per configured
// address and protocol.
//
// Out of descriptors (EMFILE/ENFILE), a spare descriptor kept in reserve is given back to accept the
// waiting connection, tell it SERVER_FULL and close it, instead of leaving it in the backlog; with no
// spare left (or out of memory), accepting pauses for kAcceptPauseMs (the listener leaves the epoll set,
// or it would be readable every pass) and resumes from the server's timers (resume_at / expire). Its
// reports are rate-limited: at most one per kAcceptReportMs, counting those held back.
#pragma once
#include <cstdint>
#include <string>

#include "loop.h"
#include "proto.h"

namespace ep {

class Bridge;
struct Stats;

// Tells a connection it cannot be served ("!! SERVER_FULL why", one best-effort write: the socket is
// new, its buffer is empty), closes it and counts it (rejected_full). An HTTP listener's: a 503.
void refuse_connection(int fd, const std::string& why, Stats* stats, Proto p = Proto::Line);

// EADDRINUSE, EMFILE…: the code the host gets for errno e (EIO for the rest).
const char* errno_name(int e);

class ListenerHost {
 public:
  virtual ~ListenerHost() = default;
  // Whether a new connection can be served now; if not, *why says why (sent as SERVER_FULL).
  virtual bool accept_full(std::string* why) = 0;
  // Takes an accepted, non-blocking socket speaking protocol p (over TLS when tls). False: not taken
  // (the listener closes it).
  virtual bool accept_connection(int fd, const char* address, Proto p, bool tls) = 0;
};

class Listener final : public Handler {
 public:
  // now_ms: the loop's clock of this pass (the server's), read for pauses and report intervals.
  Listener(Loop& loop, Bridge* bridge, Stats* stats, ListenerHost* host, Proto p, bool tls, const uint64_t& now_ms);
  ~Listener() override;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds and listens on host:port (empty host: every address; port 0: an ephemeral one) and joins the
  // loop. False with an errno name in *code and a sentence in *msg (label, e.g. "IRC ", before the
  // address in it).
  bool open(const std::string& host, int port, int backlog, const char* label, std::string* code, std::string* msg);
  const std::string& bound_host() const { return bound_host_; }
  int bound_port() const { return bound_port_; }
  Proto protocol() const { return protocol_; }
  bool tls() const { return tls_; }

  void on_io(uint32_t events, void* ctx) override;
  // When a paused listener wants to be looked at again (0: not paused): feed to the next deadline.
  uint64_t resume_at() const { return resume_ms_; }
  // Resumes accepting once the pause is over.
  void expire(uint64_t now);
  // Stops for good (shutting down): leaves the loop and closes the socket.
  void close();

 private:
  int refuse_with_spare(int e);
  void pause(int e, const std::string& what);
  bool watch();
  void report(int e, const std::string& what);
  void report_epoll(const char* what, int e);

  Loop& loop_;
  Bridge* bridge_;
  Stats* stats_;
  ListenerHost* host_;
  Proto protocol_;
  bool tls_;
  const uint64_t& now_ms_;

  int fd_ = -1;
  Loop::Id reg_ = 0;            // nonzero while in the epoll set
  int spare_fd_ = -1;           // kept in reserve to refuse a connection when out of descriptors
  uint64_t resume_ms_ = 0;      // nonzero while accepting is paused
  uint64_t report_ms_ = 0;      // accept trouble is reported at most once per kAcceptReportMs
  uint64_t suppressed_ = 0;     // reports held back since the last one
  std::string bound_host_;
  int bound_port_ = 0;
};

}  // namespace ep
