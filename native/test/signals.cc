// C-level test of the engine's signal handlers (handleSignals, native/core/signals.cc), through the
// Engine a host uses: installing them saves what they replace; restoring puts back only that, and only
// for the signals whose handler is still the engine's, so a handler someone installed meanwhile stays.
// Prints one line per failure and a closing "N passed, N failed"; exit status 1 on any failure.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>

#include "../core/engine.h"

namespace {

int g_passed = 0;
int g_failed = 0;

void check(bool cond, const char* test, const char* what, int line) {
  if (cond) return;
  std::printf("FAIL %s: %s (line %d)\n", test, what, line);
  ++g_failed;
}
#define CHECK(test, cond) check((cond), (test), #cond, __LINE__)

void before_int(int) {}
void before_term(int) {}
void meanwhile_hup(int) {}
void meanwhile_int(int) {}

using Handler = void (*)(int);

Handler current(int sig) {
  struct sigaction sa = {};
  sigaction(sig, nullptr, &sa);
  return sa.sa_handler;
}

void set(int sig, Handler h) {
  struct sigaction sa = {};
  sa.sa_handler = h;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

ep::Options options() {
  ep::Options opt;
  opt.host = "127.0.0.1";
  opt.port = 0;
  opt.handle_signals = true;
  return opt;
}

// Waits until the engine has published an event of type t (the notify callback wakes us).
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  void notify() {
    std::lock_guard<std::mutex> lock(mu);
    ready = true;
    cv.notify_one();
  }
  // The name of the next Signal event.
  bool wait_signal(ep::Engine& e, std::string* a) {
    for (int i = 0; i < 50; ++i) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(100), [this] { return ready; });
      ready = false;
      lock.unlock();
      for (auto& ev : e.drain())
        if (auto* s = std::get_if<ep::ev::Signal>(&ev)) {
          *a = s->name;
          return true;
        }
    }
    return false;
  }
};

// Restoring after someone replaced one of the engine's handlers: that one stays, the others go back
// to what the engine found.
void restore_keeps_handlers_installed_meanwhile() {
  const char* t = "restore_keeps_handlers_installed_meanwhile";
  set(SIGINT, before_int);
  set(SIGTERM, before_term);
  set(SIGHUP, SIG_IGN);  // as under nohup
  {
    Waiter w;
    ep::Engine e(options(), [&w] { w.notify(); });
    std::string code, msg;
    bool ok = e.listen(&code, &msg);
    CHECK(t, ok);
    if (!ok) return;
    Handler ours = current(SIGINT);
    CHECK(t, ours != before_int && ours != SIG_DFL && ours != SIG_IGN);
    CHECK(t, current(SIGTERM) == ours && current(SIGHUP) == ours);

    // The engine's handler works: SIGHUP reaches the host as an event.
    raise(SIGHUP);
    std::string name;
    CHECK(t, w.wait_signal(e, &name) && name == "SIGHUP");

    set(SIGHUP, meanwhile_hup);  // another library takes SIGHUP while the engine runs
    e.stop(true);
  }
  CHECK(t, current(SIGHUP) == meanwhile_hup);  // not clobbered by the engine's restore
  CHECK(t, current(SIGINT) == before_int);      // what the engine replaced, back
  CHECK(t, current(SIGTERM) == before_term);
  set(SIGINT, SIG_DFL);
  set(SIGTERM, SIG_DFL);
  set(SIGHUP, SIG_DFL);
}

// A second engine in the same process after the first one stopped owns the signals again, and its
// restore too leaves alone what is not its own.
void second_engine_installs_and_restores() {
  const char* t = "second_engine_installs_and_restores";
  set(SIGHUP, SIG_IGN);
  for (int round = 0; round < 2; ++round) {
    ep::Engine e(options(), [] {});
    std::string code, msg;
    bool ok = e.listen(&code, &msg);
    CHECK(t, ok);
    if (!ok) return;
    CHECK(t, current(SIGHUP) != SIG_IGN);
    if (round == 1) set(SIGINT, meanwhile_int);
    e.stop(true);
  }
  CHECK(t, current(SIGHUP) == SIG_IGN);
  CHECK(t, current(SIGINT) == meanwhile_int);
  CHECK(t, current(SIGTERM) == SIG_DFL);
  set(SIGINT, SIG_DFL);
  set(SIGHUP, SIG_DFL);
}

// Two engines at once: the second cannot take the signals, and its failure leaves the first one's
// handlers in place.
void second_engine_at_once_is_refused() {
  const char* t = "second_engine_at_once_is_refused";
  ep::Engine a(options(), [] {});
  std::string code, msg;
  bool ok = a.listen(&code, &msg);
  CHECK(t, ok);
  if (!ok) return;
  Handler ours = current(SIGTERM);
  {
    ep::Engine b(options(), [] {});
    CHECK(t, !b.listen(&code, &msg));
  }
  CHECK(t, current(SIGTERM) == ours);
  a.stop(true);
  CHECK(t, current(SIGTERM) == SIG_DFL);
}

}  // namespace

int main() {
  signal(SIGPIPE, SIG_IGN);
  void (*tests[])() = {restore_keeps_handlers_installed_meanwhile, second_engine_installs_and_restores,
                       second_engine_at_once_is_refused};
  for (auto fn : tests) {
    int before = g_failed;
    fn();
    if (g_failed == before) ++g_passed;
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
