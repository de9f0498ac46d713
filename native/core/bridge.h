// The engine's two channels to its host (the Node binding, or the standalone epchatd):
// commands in, from any thread, through a mutex-guarded queue and an eventfd in the engine's epoll set;
// events out (both typed: host_api.h), collected during a loop pass and published once per pass, so the host wakes once for a
// batch and never sits on the per-message path.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "host_api.h"

namespace ep {

class Bridge {
 public:
  Bridge();
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  bool ok() const { return wake_fd_ >= 0; }
  int wake_fd() const { return wake_fd_; }

  // Any thread.
  void post(HostCmd cmd);
  // Engine thread: the commands posted since the last call.
  std::vector<HostCmd> take();
  // Engine thread, once it has stopped taking commands: drops those still queued, and any posted from
  // now on, unrun (an adopt's descriptor is closed; cmd::Adopt owns it).
  void close_inbox();

  // Engine thread: queue an event for this pass; publish() hands the batch to the host.
  void emit(HostEvent ev) { batch_.push_back(std::move(ev)); }
  void publish();
  // Host thread.
  std::vector<HostEvent> drain();

  // Called (on the engine thread) when a batch lands in an empty outbox.
  std::function<void()> notify;

 private:
  int wake_fd_ = -1;
  std::mutex in_mu_;
  std::vector<HostCmd> inbox_;
  bool inbox_closed_ = false;  // under in_mu_
  std::vector<HostEvent> batch_;
  static constexpr size_t kMaxPending = 1 << 16;  // events waiting for the host
  std::mutex out_mu_;
  std::vector<HostEvent> outbox_;
  uint64_t dropped_ = 0;  // message events dropped since the host last drained (under out_mu_)
};

}  // namespace ep
