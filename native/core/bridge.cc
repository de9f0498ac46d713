#include "bridge.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdint>
#include <string>

namespace ep {

Bridge::Bridge() { wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

Bridge::~Bridge() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Bridge::post(HostCmd cmd) {
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    if (inbox_closed_) return;  // nobody will run it: dropped here (after the unlock), fds closed
    inbox_.push_back(std::move(cmd));
  }
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: the engine is awake anyway.
  while (write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

std::vector<HostCmd> Bridge::take() {
  uint64_t n;
  while (read(wake_fd_, &n, sizeof n) < 0 && errno == EINTR) {
  }
  std::vector<HostCmd> out;
  std::lock_guard<std::mutex> lock(in_mu_);
  out.swap(inbox_);
  return out;
}

void Bridge::close_inbox() {
  std::vector<HostCmd> dropped;
  {
    std::lock_guard<std::mutex> lock(in_mu_);
    inbox_closed_ = true;
    dropped.swap(inbox_);
  }
}  // dropped (and the descriptors its adopt commands own) goes here, outside the lock

void Bridge::publish() {
  if (batch_.empty()) return;
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(out_mu_);
    was_empty = outbox_.empty();
    // A host that stops draining (a JavaScript thread stuck in a long task) must not grow the
    // engine's memory without bound: past the limit, message events (a tap on the chat, not needed
    // by anything else) are dropped and counted; the others are rarer and must not be lost.
    if (outbox_.size() + batch_.size() > kMaxPending) {
      size_t room = outbox_.size() < kMaxPending ? kMaxPending - outbox_.size() : 0;
      size_t before = batch_.size();
      batch_.erase(std::remove_if(batch_.begin(), batch_.end(),
                                  [&room](const HostEvent& e) {
                                    if (room > 0) {
                                      --room;
                                      return false;
                                    }
                                    return std::holds_alternative<ev::Message>(e);
                                  }),
                   batch_.end());
      dropped_ += before - batch_.size();
    }
    if (outbox_.empty()) {
      outbox_.swap(batch_);
    } else {
      for (auto& e : batch_) outbox_.push_back(std::move(e));
      batch_.clear();
    }
  }
  if (was_empty && notify) notify();
}

std::vector<HostEvent> Bridge::drain() {
  std::vector<HostEvent> out;
  std::lock_guard<std::mutex> lock(out_mu_);
  out.swap(outbox_);
  // The host has caught up: tell it what it missed, after what it kept.
  if (dropped_ > 0) {
    out.push_back(ev::Error{"EPCHAT_EVENTS_DROPPED",
                            std::to_string(dropped_) + " message events dropped: the host did not keep up"});
    dropped_ = 0;
  }
  return out;
}

}  // namespace ep
