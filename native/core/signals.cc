// The signal self-pipe (signals.h).
#include "signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace ep {

namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
constexpr int kCount = sizeof kSignals / sizeof kSignals[0];
std::atomic<int> g_sig_wr{-1};
struct sigaction g_old[kCount];  // what install replaced, per signal
bool g_replaced[kCount] = {};    // whether install replaced it (and restore still owes it back)
bool g_installed = false;

void on_signal(int signo);

// Whether the handler now in place for sig is on_signal.
bool is_ours(int sig) {
  struct sigaction cur = {};
  if (sigaction(sig, nullptr, &cur) < 0) return false;
  return !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == on_signal;
}

// Puts back what install replaced, for each signal whose handler is still ours: a handler someone
// installed meanwhile (over ours) is theirs to keep. (Another thread changing a handler between the
// look and the put-back can still lose; sigaction offers no compare-and-swap.)
void put_back() {
  for (int i = 0; i < kCount; ++i) {
    if (!g_replaced[i]) continue;
    if (is_ours(kSignals[i])) sigaction(kSignals[i], &g_old[i], nullptr);
    g_replaced[i] = false;
  }
}

void on_signal(int signo) {
  int saved = errno;
  int fd = g_sig_wr.load(std::memory_order_relaxed);
  if (fd >= 0) {
    unsigned char b = static_cast<unsigned char>(signo);
    ssize_t w = write(fd, &b, 1);  // a full pipe already holds a pending wake-up
    (void)w;
  }
  errno = saved;
}

const char* signal_name(int s) {
  switch (s) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "SIGNAL";
  }
}

}  // namespace

bool SignalPipe::install() {
  if (g_installed) {
    errno = EBUSY;  // one engine per process owns the signals
    return false;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return false;
  rd_ = fds[0];
  g_sig_wr.store(fds[1]);
  reg_ = loop_.add(rd_, EPOLLIN, this);
  if (!reg_) return false;
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int i = 0; i < kCount; ++i) {
    if (sigaction(kSignals[i], &sa, &g_old[i]) < 0) {
      int e = errno;
      put_back();  // all or nothing
      errno = e;
      return false;
    }
    g_replaced[i] = true;
  }
  g_installed = true;
  return true;
}

void SignalPipe::restore() {
  if (rd_ < 0) return;
  if (g_installed) {
    put_back();
    g_installed = false;
  }
  int wr = g_sig_wr.exchange(-1);
  if (wr >= 0) close(wr);
  // A SIGINT/SIGTERM that came after the loop's last read (a second signal during the last pass of a
  // shutdown) is not lost: it goes to the handler restored above (the host's, or the default action).
  // SIGHUP is dropped: there is nothing left to reload.
  bool again[2] = {false, false};
  unsigned char sigs[64];
  ssize_t n;
  while ((n = read(rd_, sigs, sizeof sigs)) > 0 || (n < 0 && errno == EINTR)) {
    for (ssize_t i = 0; i < n; ++i) {
      if (sigs[i] == SIGINT) again[0] = true;
      if (sigs[i] == SIGTERM) again[1] = true;
    }
  }
  if (reg_) loop_.remove(reg_);  // closing the pipe takes it out of the set anyway
  reg_ = 0;
  close(rd_);
  rd_ = -1;
  if (again[0]) raise(SIGINT);
  if (again[1]) raise(SIGTERM);
}

void SignalPipe::on_io(uint32_t, void*) {
  unsigned char sigs[64];
  ssize_t n;
  while ((n = read(rd_, sigs, sizeof sigs)) > 0) {
    for (ssize_t i = 0; i < n; ++i) on_signal_(sigs[i], signal_name(sigs[i]));
  }
}

}  // namespace ep
