#include "loop.h"

#include <unistd.h>

#include <cerrno>

#include "sysio.h"

namespace ep {

namespace {
// id = generation << 32 | slot. Generations start at 1, so no live id is 0.
inline uint32_t slot_of(Loop::Id id) { return static_cast<uint32_t>(id); }
inline uint32_t gen_of(Loop::Id id) { return static_cast<uint32_t>(id >> 32); }
}  // namespace

Loop::~Loop() {
  if (epfd_ >= 0) ::close(epfd_);
}

bool Loop::open() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  return epfd_ >= 0;
}

Loop::Slot* Loop::find(Id id) {
  uint32_t s = slot_of(id);
  if (id == 0 || s >= slots_.size()) return nullptr;
  Slot& e = slots_[s];
  return e.h && e.gen == gen_of(id) ? &e : nullptr;
}

const Loop::Slot* Loop::find(Id id) const { return const_cast<Loop*>(this)->find(id); }

Loop::Id Loop::add(int fd, uint32_t events, Handler* h, void* ctx) {
  uint32_t s = take_slot(slots_, free_);
  uint32_t gen = next_gen_++;
  if (next_gen_ == 0) next_gen_ = 1;
  Id id = (static_cast<uint64_t>(gen) << 32) | s;
  epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = id;
  if (sysio::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0 &&
      (errno != EEXIST || sysio::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0)) {
    free_.push_back(s);
    return 0;
  }
  slots_[s] = Slot{h, ctx, gen, fd};
  ++live_;
  return id;
}

bool Loop::modify(Id id, uint32_t events) {
  Slot* e = find(id);
  if (!e) {
    errno = EBADF;
    return false;
  }
  epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = id;
  return sysio::epoll_ctl(epfd_, EPOLL_CTL_MOD, e->fd, &ev) == 0;
}

bool Loop::remove(Id id) {
  Slot* e = find(id);
  if (!e) {
    errno = EBADF;
    return false;
  }
  int fd = e->fd;
  *e = Slot{nullptr, nullptr, e->gen, -1};  // the generation stays: a stale id keeps failing to match
  retired_.push_back(slot_of(id));
  --live_;
  return sysio::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) == 0;
}

int Loop::fd_of(Id id) const {
  const Slot* e = find(id);
  return e ? e->fd : -1;
}

int Loop::wait(int timeout_ms) {
  int n = epoll_wait(epfd_, evs_, kMaxEvents, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : -1;
  return n;
}

void Loop::dispatch(int n) {
  for (int i = 0; i < n; ++i) {
    // Looked up per event, not before the loop: an earlier handler in this pass may have removed it.
    Slot* e = find(evs_[i].data.u64);
    if (e) e->h->on_io(evs_[i].events, e->ctx);
  }
}

void Loop::end_pass() {
  free_.insert(free_.end(), retired_.begin(), retired_.end());
  retired_.clear();
}

}  // namespace ep
