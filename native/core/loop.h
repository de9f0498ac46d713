// The event loop's epoll set: one Handler per registered descriptor (a client connection, a
// listener, the host's eventfd, the signal self-pipe, the stdin console). Modelled on uSockets'
// loop.c and Redis' ae.c, with one difference that matters for lifetimes: epoll_event.data carries a
// registration id (slot + generation), never a pointer. A handler removed earlier in the same pass
// (a client closed while handling an event before its own) leaves a slot whose generation no longer
// matches, so its remaining events are skipped, never dereferenced; the slot is reused only after
// the pass (end_pass), so an id fetched in this pass cannot name a handler registered during it.
//
// Every epoll_ctl goes through sysio (the fault seam) and its result is returned: the caller decides
// what a failed registration means (a client is dropped, the listener retries after a pause).
//
// Timers are not here: the inactivity lists (ilist.h) are sorted by deadline, so their owners feed the
// earliest one to a Deadline, whose timeout_ms() is what wait() sleeps at most.
#pragma once
#include <sys/epoll.h>

#include <cstdint>
#include <vector>

namespace ep {

// A slot for a new entry of a slot table: a freed one if any (its owner decides when a slot may be
// freed: after the pass), else a new one at the end, value-initialised.
template <typename T>
uint32_t take_slot(std::vector<T>& slots, std::vector<uint32_t>& free) {
  if (free.empty()) {
    slots.emplace_back();
    return static_cast<uint32_t>(slots.size() - 1);
  }
  uint32_t s = free.back();
  free.pop_back();
  return s;
}

class Handler {
 public:
  virtual ~Handler() = default;
  // The descriptor is ready: events is epoll's mask (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR, EPOLLRDHUP);
  // ctx is what the registration was given (one handler can serve many descriptors: the connections).
  virtual void on_io(uint32_t events, void* ctx) = 0;
};

class Loop {
 public:
  using Id = uint64_t;  // 0: no registration
  static constexpr int kMaxEvents = 256;

  Loop() = default;
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Creates the epoll set. False with errno set.
  bool open();
  bool is_open() const { return epfd_ >= 0; }

  // Watches fd for events on behalf of h (not owned; it must outlive its registration). Returns the
  // registration's id, or 0 with errno set (epoll_ctl refused: EPERM for a regular file, ENOMEM…).
  // A descriptor still in the kernel's set from a registration whose removal failed (EEXIST) is taken
  // over by the new one.
  Id add(int fd, uint32_t events, Handler* h, void* ctx = nullptr);
  // Changes the events watched for registration id. False with errno set (the registration stays as
  // it was, as far as the kernel is concerned) or for an unknown id (EBADF).
  bool modify(Id id, uint32_t events);
  // Ends registration id: its slot is emptied now (events already fetched for it are skipped) and
  // reused after the pass. False with errno set if EPOLL_CTL_DEL failed (the registration is gone all
  // the same; closing the descriptor takes it out of the kernel's set).
  bool remove(Id id);
  // The descriptor registered as id, or -1.
  int fd_of(Id id) const;

  // Waits at most timeout_ms (-1: forever) for events: how many were fetched (0 on timeout or EINTR),
  // or -1 with errno set when epoll_wait itself failed. The caller reads its clock, then dispatch()es.
  int wait(int timeout_ms);
  // Runs the handler of each of the n events wait() fetched, skipping any whose registration was
  // removed since (by an earlier handler in this pass).
  void dispatch(int n);
  // After the pass: slots emptied during it become reusable.
  void end_pass();

  size_t registered() const { return live_; }

 private:
  struct Slot {
    Handler* h = nullptr;
    void* ctx = nullptr;
    uint32_t gen = 0;
    int fd = -1;
  };
  Slot* find(Id id);
  const Slot* find(Id id) const;

  int epfd_ = -1;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;     // reusable slots
  std::vector<uint32_t> retired_;  // emptied this pass: reusable after end_pass()
  uint32_t next_gen_ = 1;
  size_t live_ = 0;
  epoll_event evs_[kMaxEvents];
};

// The earliest of a set of deadlines (ms on the monotonic clock), as a wait in ms for Loop::poll:
// -1 when there is none, 0 when one has passed, capped at a minute.
class Deadline {
 public:
  void consider(uint64_t at_ms) {
    if (at_ms < next_) next_ = at_ms;
  }
  int timeout_ms(uint64_t now_ms) const {
    if (next_ == UINT64_MAX) return -1;
    if (next_ <= now_ms) return 0;
    uint64_t wait = next_ - now_ms;
    return wait > 60000 ? 60000 : static_cast<int>(wait);
  }

 private:
  uint64_t next_ = UINT64_MAX;
};

}  // namespace ep
