// The host's command channel as a loop handler: the Bridge's eventfd is readable when the host (the
// JavaScript thread, or epchatd) has posted commands; the handler takes them all (which drains the
// eventfd) and runs them on the engine thread, in the order posted. What each command does is the
// server's (admin.cc); replies and events go back through the Bridge, published once per pass.
#pragma once
#include <functional>
#include <vector>

#include "bridge.h"
#include "loop.h"

namespace ep {

class HostChannel final : public Handler {
 public:
  using Run = std::function<void(std::vector<HostCmd>& cmds)>;
  HostChannel(Loop& loop, Bridge* bridge, Run run) : loop_(loop), bridge_(bridge), run_(std::move(run)) {}
  HostChannel(const HostChannel&) = delete;
  HostChannel& operator=(const HostChannel&) = delete;

  // Joins the loop. False with errno set (no eventfd: EMFILE; epoll_ctl refused).
  bool open();
  void on_io(uint32_t events, void* ctx) override;

 private:
  Loop& loop_;
  Bridge* bridge_;
  Run run_;
  Loop::Id reg_ = 0;
};

}  // namespace ep
