// C-level tests of the event loop (native/core/loop.h): registrations by id, an event for a handler
// removed earlier in the same pass skipped (never run, never dereferenced: run under ASan by
// scripts/sanitize.sh), slots reused only after the pass with a new generation, every epoll_ctl
// failure returned with its errno (through the sysio seam), the next-deadline computation.
// Prints one line per failure and "N passed, N failed"; exit status 1 on any failure.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "../core/loop.h"
#include "../core/sysio.h"
#include "check.h"

namespace {

// A handler that runs a function on its events and counts them.
struct Fn : ep::Handler {
  std::function<void(uint32_t)> fn;
  int* calls;
  Fn(int* c, std::function<void(uint32_t)> f = nullptr) : fn(std::move(f)), calls(c) {}
  void on_io(uint32_t ev, void*) override {
    ++*calls;
    if (fn) fn(ev);
  }
};

// A socketpair whose first end is readable (a byte waits in it).
struct Pair {
  int fd[2] = {-1, -1};
  Pair() {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0) std::abort();
    if (::write(fd[1], "x", 1) != 1) std::abort();
  }
  ~Pair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
};

// Two handlers ready in the same pass; whichever runs first removes the other and frees it (as a
// client closed by an earlier event is finalized). The other's event must be skipped: one call only,
// and no use of the freed handler (ASan would report it).
TEST(handler_removed_earlier_in_the_pass_is_skipped) {
  bool ok = true;
  ep::Loop loop;
  CHECK(loop.open());
  Pair a, b;
  int calls = 0;
  Fn* ha = new Fn(&calls);
  Fn* hb = new Fn(&calls);
  ep::Loop::Id ia = loop.add(a.fd[0], EPOLLIN, ha);
  ep::Loop::Id ib = loop.add(b.fd[0], EPOLLIN, hb);
  CHECK(ia != 0 && ib != 0 && ia != ib);
  ha->fn = [&](uint32_t) {
    CHECK(loop.remove(ib));
    delete hb;
    hb = nullptr;
  };
  hb->fn = [&](uint32_t) {
    CHECK(loop.remove(ia));
    delete ha;
    ha = nullptr;
  };
  int n = loop.wait(1000);
  CHECK(n == 2);
  loop.dispatch(n);
  CHECK(calls == 1);
  CHECK(loop.registered() == 1);
  loop.end_pass();
  delete ha;
  delete hb;
  return ok;
}

// A slot emptied in a pass is not reused in it (an id fetched in the pass could name the newcomer);
// after the pass it is, with a new generation: the old id no longer resolves.
TEST(slots_are_reused_after_the_pass_with_a_new_generation) {
  bool ok = true;
  ep::Loop loop;
  CHECK(loop.open());
  Pair a, b, c;
  int calls = 0;
  Fn h(&calls);
  ep::Loop::Id ia = loop.add(a.fd[0], EPOLLIN, &h);
  CHECK(loop.fd_of(ia) == a.fd[0]);
  CHECK(loop.remove(ia));
  CHECK(loop.fd_of(ia) == -1);
  ep::Loop::Id ib = loop.add(b.fd[0], EPOLLIN, &h);
  CHECK(static_cast<uint32_t>(ib) != static_cast<uint32_t>(ia));  // another slot, within the pass
  loop.end_pass();
  ep::Loop::Id ic = loop.add(c.fd[0], EPOLLIN, &h);
  CHECK(static_cast<uint32_t>(ic) == static_cast<uint32_t>(ia));  // the slot again, after the pass
  CHECK(ic != ia);                                                // … with another generation
  errno = 0;
  CHECK(!loop.modify(ia, EPOLLIN) && errno == EBADF);
  CHECK(!loop.remove(ia) && errno == EBADF);
  CHECK(loop.fd_of(ic) == c.fd[0]);
  CHECK(!loop.modify(0, EPOLLIN));
  return ok;
}

// epoll_ctl's refusals come back to the caller with errno: a regular file cannot be polled (EPERM),
// and a MOD or DEL the kernel refuses (faulted through sysio) is reported, not swallowed.
struct FailCtl : ep::sysio::Hook {
  int fail_op = -1;
  int fail_errno = ENOMEM;
  int epoll_ctl(int epfd, int op, int fd, epoll_event* ev) override {
    if (op == fail_op) {
      errno = fail_errno;
      return -1;
    }
    return ::epoll_ctl(epfd, op, fd, ev);
  }
};

TEST(epoll_ctl_failures_are_returned) {
  bool ok = true;
  ep::Loop loop;
  CHECK(loop.open());
  int calls = 0;
  Fn h(&calls);
  int file = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  errno = 0;
  CHECK(loop.add(file, EPOLLIN, &h) == 0 && errno == EPERM);
  CHECK(loop.registered() == 0);
  ::close(file);

  Pair a;
  ep::Loop::Id id = loop.add(a.fd[0], EPOLLIN, &h);
  FailCtl f;
  ep::sysio::set_hook(&f);
  f.fail_op = EPOLL_CTL_MOD;
  errno = 0;
  CHECK(!loop.modify(id, EPOLLIN | EPOLLOUT) && errno == ENOMEM);
  f.fail_op = EPOLL_CTL_ADD;
  Pair b;
  CHECK(loop.add(b.fd[0], EPOLLIN, &h) == 0 && errno == ENOMEM);
  // A failed DEL: the registration is gone for the loop (its events are skipped) and reported.
  f.fail_op = EPOLL_CTL_DEL;
  errno = 0;
  CHECK(!loop.remove(id) && errno == ENOMEM);
  ep::sysio::set_hook(nullptr);
  CHECK(loop.registered() == 0);
  int n = loop.wait(0);
  CHECK(n == 1);  // still in the kernel's set…
  loop.dispatch(n);
  CHECK(calls == 0);  // … but nobody's: skipped
  loop.end_pass();
  // Adding it again takes over the kernel's stale registration (EEXIST) instead of failing.
  int calls2 = 0;
  Fn h2(&calls2);
  ep::Loop::Id again = loop.add(a.fd[0], EPOLLIN, &h2);
  CHECK(again != 0);
  n = loop.wait(0);
  loop.dispatch(n);
  CHECK(calls2 == 1 && calls == 0);
  return ok;
}

TEST(deadline_is_the_earliest_capped_at_a_minute) {
  bool ok = true;
  ep::Deadline none;
  CHECK(none.timeout_ms(1000) == -1);
  ep::Deadline d;
  d.consider(5000);
  d.consider(3000);
  d.consider(9000);
  CHECK(d.timeout_ms(1000) == 2000);
  CHECK(d.timeout_ms(3000) == 0);
  CHECK(d.timeout_ms(4000) == 0);
  ep::Deadline far;
  far.consider(10 * 60 * 1000);
  CHECK(far.timeout_ms(0) == 60000);
  return ok;
}

}  // namespace

int main() { return check::run_all(); }
