// C-level tests of TLS connections through the whole engine (native/core/tls_transport.h): a Server
// driven pass by pass, TLS clients (OpenSSL over the client end of a socketpair) adopted as TLS
// connections, and the server's socket calls faulted through the sysio seam: records the socket
// takes a few bytes at a time, a read error mid-handshake, input waiting in a transport that epoll
// will never announce. Prints one line per failure and "N passed, N failed".
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "check.h"
#include "../core/bridge.h"
#include "../core/server.h"
#include "../core/stats.h"
#include "../core/sysio.h"
#include "../core/tls_transport.h"
#include "tls_testcert.h"

namespace {

std::string g_cert, g_key;

// send on chosen descriptors: at most a few bytes, and every other call EAGAIN (a socket that keeps
// filling up); read failing on chosen ones.
struct Faults : ep::sysio::Hook {
  std::set<int> send_capped;
  size_t send_cap = 7;
  unsigned send_calls = 0;
  std::set<int> read_fail;
  ssize_t send(int fd, const void* buf, size_t n, int flags) override {
    if (send_capped.count(fd)) {
      if (++send_calls % 2 == 0) {
        errno = EAGAIN;
        return -1;
      }
      if (n > send_cap) n = send_cap;
    }
    return ::send(fd, buf, n, flags);
  }
  ssize_t read(int fd, void* buf, size_t n) override {
    if (read_fail.count(fd)) {
      errno = ECONNRESET;
      return -1;
    }
    return ::read(fd, buf, n);
  }
};

// A TLS client on our end of a socketpair (non-blocking; its own calls are not through sysio).
struct TlsPeer {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  int fd = -1;
  std::string rx;
  bool close_notify = false;
  bool eof = false;
  explicit TlsPeer(int f) : fd(f) {
    SSL_CTX_load_verify_locations(ctx, g_cert.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_connect_state(ssl);
    SSL_set1_host(ssl, "localhost");
  }
  ~TlsPeer() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
    ERR_clear_error();
  }
  bool ready() const { return SSL_is_init_finished(ssl); }
  void progress() {
    if (!ready() && SSL_do_handshake(ssl) != 1) return;
    char b[16384];
    for (;;) {
      size_t n = 0;
      if (SSL_read_ex(ssl, b, sizeof b, &n) == 1) {
        rx.append(b, n);
        continue;
      }
      int e = SSL_get_error(ssl, 0);
      if (e == SSL_ERROR_ZERO_RETURN) close_notify = true;
      else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL) eof = true;
      ERR_clear_error();
      return;
    }
  }
  bool write(const std::string& s) {
    size_t w = 0;
    return SSL_write_ex(ssl, s.data(), s.size(), &w) == 1 && w == s.size();
  }
};

struct World {
  ep::Bridge bridge;
  ep::Stats stats;
  ep::Server server;
  Faults faults;
  explicit World(ep::Options opt) : server(opt, &bridge, &stats) {
    std::string code, msg;
    if (!server.open(&code, &msg)) std::printf("open: %s %s\n", code.c_str(), msg.c_str());
    ep::sysio::set_hook(&faults);
  }
  ~World() { ep::sysio::set_hook(nullptr); }
  static ep::Options options() {
    ep::Options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.tls_cert = g_cert;
    o.tls_key = g_key;
    o.policy.flood_rate = 0;
    return o;
  }
  // A socketpair whose first end the server adopts (over TLS when tls); returns our end.
  int adopt(bool tls, ep::Client** out = nullptr) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return -1;
    ep::Client* c = server.adopt(fds[0], "t:peer", ep::Proto::Line, tls);
    if (out) *out = c;
    return fds[1];
  }
  void pass() {
    server.step(0);
    bridge.drain();
  }
  uint64_t stat(const char* name) {
    for (auto& kv : stats.snapshot(ep::mono_ms()))
      if (std::strcmp(kv.first, name) == 0) return kv.second;
    return ~uint64_t{0};
  }
};

std::string drain(int fd) {
  std::string out;
  char b[65536];
  ssize_t r;
  while ((r = ::read(fd, b, sizeof b)) > 0) out.append(b, static_cast<size_t>(r));
  return out;
}

// Handshake replies and records the socket takes 7 bytes at a time: the transport keeps the rest,
// EPOLLOUT stays armed, everything arrives in order; /quit ends with close_notify, then FIN.
TEST(records_the_socket_refuses_wait_for_epollout_then_close_notify_and_fin) {
  bool ok = true;
  World w(World::options());
  ep::Client* c = nullptr;
  TlsPeer p(w.adopt(true, &c));
  CHECK(c != nullptr);
  if (!c) return ok;
  w.faults.send_capped.insert(c->fd);
  for (int i = 0; i < 2000 && p.rx.find(">> Enter pseudo:\n") == std::string::npos; ++i) {
    p.progress();
    w.pass();
  }
  CHECK(p.ready());
  CHECK(p.rx == ">> Enter pseudo:\n");
  CHECK(p.write("capped\n/help\n"));
  for (int i = 0; i < 5000 && p.rx.find("== END HELP") == std::string::npos; ++i) {
    w.pass();
    p.progress();
  }
  CHECK(p.rx.find(">> Welcome capped !\n") != std::string::npos);
  CHECK(p.rx.find("== END HELP") != std::string::npos);
  CHECK(p.write("/quit\n"));
  for (int i = 0; i < 2000 && !p.eof && !p.close_notify; ++i) {
    w.pass();
    p.progress();
  }
  CHECK(p.close_notify);
  CHECK(w.stat("tls_handshakes") == 1);
  // Our close_notify, socket kept open: the lingering server reads and drops it (a socket left
  // readable would wake the loop every pass until the linger ends), then our FIN ends it.
  int server_fd = c->fd;
  w.faults.send_capped.clear();
  SSL_shutdown(p.ssl);
  w.pass();
  int unread = -1;
  CHECK(ioctl(server_fd, FIONREAD, &unread) == 0 && unread == 0);
  ::shutdown(p.fd, SHUT_WR);
  for (int i = 0; i < 4; ++i) w.pass();
  CHECK(w.stat("connections") == 0);
  return ok;
}

// Input a transport already took off the socket (TLS plaintext decrypted beyond one read): epoll
// never fires for it, so the server must read such a connection again by itself. This transport
// returns at most 700 bytes a read while keeping the rest; the socket is empty after its first read.
struct HoardingTransport : ep::Transport {
  int fd = -1;
  std::string held;
  ssize_t read(char* buf, size_t n) override {
    if (held.empty()) {
      char b[65536];
      ssize_t r = ep::sysio::read(fd, b, sizeof b);
      if (r <= 0) return r;
      held.assign(b, static_cast<size_t>(r));
    }
    size_t k = std::min<size_t>({n, held.size(), 700});
    std::memcpy(buf, held.data(), k);
    held.erase(0, k);
    return static_cast<ssize_t>(k);
  }
  ssize_t writev(const iovec* iov, int n) override {
    msghdr m = {};
    m.msg_iov = const_cast<iovec*>(iov);
    m.msg_iovlen = static_cast<size_t>(n);
    return ::sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  int shutdown_write() override { return ::shutdown(fd, SHUT_WR); }
  bool want_write() const override { return false; }
  bool flush_transport() override { return true; }
  bool delivered() const override { return true; }
  bool read_pending() const override { return !held.empty(); }
};

TEST(input_waiting_in_a_transport_is_read_again_without_an_epoll_event) {
  bool ok = true;
  HoardingTransport t;  // outlives the server
  World w(World::options());
  int rxfd = w.adopt(false);  // the receiver, on plain TCP
  std::string got;
  CHECK(::write(rxfd, "rx\n", 3) == 3);
  for (int i = 0; i < 4; ++i) w.pass();
  // Take over the sender's transport before it says anything.
  int fds[2];
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
  ep::Client* c = w.server.adopt(fds[0], "t:hoard");
  CHECK(c != nullptr);
  if (!c) return ok;
  t.fd = fds[0];
  c->transport = &t;
  std::string burst = "hoarder\n";
  const int kLines = 120;  // ~12 KiB: 18 reads of 700 bytes, several passes of kReadsPerPass
  for (int i = 0; i < kLines; ++i) burst += "line " + std::to_string(i) + " " + std::string(90, 'x') + "\n";
  CHECK(::write(fds[1], burst.data(), burst.size()) == static_cast<ssize_t>(burst.size()));
  for (int i = 0; i < 200; ++i) {
    w.pass();
    got += drain(rxfd);
  }
  CHECK(t.held.empty());
  CHECK(got.find("hoarder: line " + std::to_string(kLines - 1) + " ") != std::string::npos);
  ::close(fds[1]);
  ::close(rxfd);
  for (int i = 0; i < 4; ++i) w.pass();
  return ok;
}

// The real TLS case of the above. Records of 15000 plaintext bytes (15022 on the wire, TLS 1.3) all
// waiting in the socket: the server's 64 KiB reads complete 4, 4, then 5 records, so the third read
// decrypts 75000 bytes: 65536 are returned and 9464 wait in the transport, with the socket now
// empty. A delegated command inside that read holds the client's input (reading off); when the host
// finishes it, reading resumes, but epoll has nothing to announce: without the pending-read list the
// last 9464 bytes of lines would wait until the client sent something else.
TEST(plaintext_decrypted_beyond_one_read_is_delivered_after_a_held_command) {
  bool ok = true;
  ep::Options o = World::options();
  o.policy.delegate = {"hold"};
  World w(o);
  int rxfd = w.adopt(false);
  CHECK(::write(rxfd, "rx\n", 3) == 3);
  ep::Client* c = nullptr;
  int fd = w.adopt(true, &c);
  int big = 400000;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  TlsPeer p(fd);
  SSL_set_min_proto_version(p.ssl, TLS1_3_VERSION);
  for (int i = 0; i < 100 && p.rx.find("Enter pseudo") == std::string::npos; ++i) {
    p.progress();
    w.pass();
  }
  CHECK(p.ready());
  // 13 records of 15000 bytes: lines of 100 bytes, the delegated command at offset 130000 (inside the
  // third read's 65536 returned bytes: 120000..185536).
  std::string stream = "tlsnick\n";
  int n = 0;
  while (stream.size() < 13 * 15000) {
    std::string line = stream.size() >= 130000 && stream.find("/hold") == std::string::npos
                           ? "/hold now"
                           : "line " + std::to_string(n++) + " ";
    line.resize(99, 'x');
    stream += line + "\n";
  }
  stream.resize(13 * 15000);
  std::string last_full = stream.substr(0, stream.rfind('\n'));
  last_full = last_full.substr(last_full.rfind('\n') + 1);
  for (int r = 0; r < 13; ++r) CHECK(p.write(stream.substr(static_cast<size_t>(r) * 15000, 15000)));
  std::string got;
  uint64_t id = 0;
  uint32_t seq = 0;
  for (int i = 0; i < 50 && !seq; ++i) {
    w.server.step(0);
    for (ep::HostEvent& e : w.bridge.drain())
      if (auto* cmd = std::get_if<ep::ev::Command>(&e)) id = cmd->id, seq = cmd->seq;
    got += drain(rxfd);
  }
  CHECK(seq != 0);
  CHECK(c && c->transport->read_pending());  // what the test is about: plaintext waits, socket empty
  w.bridge.post(ep::cmd::Finish{id, seq, false});
  for (int i = 0; i < 50; ++i) {
    w.pass();
    got += drain(rxfd);
  }
  CHECK(got.find("tlsnick: " + last_full + "\n") != std::string::npos);
  ::close(rxfd);
  return ok;
}

// TlsTransport itself: a caller's buffer smaller than what one read decrypted gets the rest from
// later reads, with the socket empty (read_pending() says so until it is taken).
TEST(tls_transport_keeps_plaintext_beyond_the_callers_buffer) {
  bool ok = true;
  ep::TlsLoadResult err;
  auto ctx = ep::TlsContext::load(ep::TlsConfig{g_cert, g_key}, &err);
  CHECK(ctx != nullptr);
  if (!ctx) return ok;
  int fds[2];
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
  std::vector<char> scratch(65536);
  ep::TlsTransport t(fds[0], *ctx, {}, scratch.data(), scratch.size(), ep::PlaintextKind::Unknown);
  TlsPeer p(fds[1]);
  char buf[64];
  for (int i = 0; i < 100 && !t.session().handshake_complete(); ++i) {
    p.progress();
    t.read(buf, sizeof buf);
  }
  CHECK(t.session().handshake_complete());
  CHECK(t.take_handshake_done());
  CHECK(!t.write_waits_for_read());
  std::string sent(5000, 'q');
  CHECK(p.write(sent));
  std::string got;
  ssize_t r = t.read(buf, sizeof buf);
  CHECK(r == static_cast<ssize_t>(sizeof buf));
  got.append(buf, static_cast<size_t>(r > 0 ? r : 0));
  CHECK(t.read_pending());
  while (t.read_pending()) {
    r = t.read(buf, sizeof buf);
    if (r <= 0) break;
    got.append(buf, static_cast<size_t>(r));
  }
  CHECK(got == sent);
  errno = 0;
  CHECK(t.read(buf, sizeof buf) == -1 && errno == EAGAIN);  // the socket was empty all along
  ::close(fds[0]);
  return ok;
}

// A read error in the middle of one client's handshake closes that client alone; a plaintext client
// is told TLS_REQUIRED; a third completes its handshake and chats.
TEST(a_read_error_mid_handshake_and_a_plaintext_client_cost_nobody_else) {
  bool ok = true;
  World w(World::options());
  ep::Client* a = nullptr;
  TlsPeer pa(w.adopt(true, &a));
  CHECK(a != nullptr);
  if (!a) return ok;
  pa.progress();  // ClientHello
  w.faults.read_fail.insert(a->fd);
  w.pass();
  w.pass();
  w.faults.read_fail.clear();
  int plain = w.adopt(true);
  CHECK(::write(plain, "hello\n", 6) == 6);
  TlsPeer pb(w.adopt(true));
  for (int i = 0; i < 200 && pb.rx.find("Enter pseudo") == std::string::npos; ++i) {
    pb.progress();
    w.pass();
  }
  CHECK(pb.rx == ">> Enter pseudo:\n");
  std::string told = drain(plain);
  CHECK(told.rfind("!! TLS_REQUIRED ", 0) == 0);
  CHECK(w.stat("tls_plaintext") == 1);
  CHECK(w.stat("connections") == 1);
  ::close(plain);
  return ok;
}

}  // namespace

int main() {
  signal(SIGPIPE, SIG_IGN);
  char dir[] = "/tmp/epchat-tls-server-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  if (!tlstest::make_cert(dir, "", "localhost", &g_cert, &g_key)) {
    std::printf("cannot make a test certificate\n");
    return 1;
  }
  int rc = check::run_all([] { ERR_clear_error(); });
  std::remove(g_cert.c_str());
  std::remove(g_key.c_str());
  rmdir(dir);
  return rc;
}
