// SIGINT, SIGTERM and SIGHUP through a self-pipe, as a loop handler: the signal handler only writes
// the signal number to a pipe in the engine's epoll set, so shutdown and reload run on the engine
// thread like any other event, whichever thread the kernel picked to run the handler.
//
// One engine per process owns the signals. restore() puts back what install() replaced, and only for
// signals whose handler is still ours (one installed meanwhile stays); a SIGINT/SIGTERM that arrived
// after the loop's last read is raised again for the restored handler.
#pragma once
#include <functional>

#include "loop.h"

namespace ep {

class SignalPipe final : public Handler {
 public:
  // on_signal(signo, name): on the engine thread, once per signal received.
  using OnSignal = std::function<void(int signo, const char* name)>;
  SignalPipe(Loop& loop, OnSignal on_signal) : loop_(loop), on_signal_(std::move(on_signal)) {}
  ~SignalPipe() override { restore(); }
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  // Creates the pipe, joins the loop, installs the handlers (all or none). False with errno set
  // (EBUSY: another engine in this process owns them).
  bool install();
  void restore();
  void on_io(uint32_t events, void* ctx) override;

 private:
  Loop& loop_;
  OnSignal on_signal_;
  int rd_ = -1;
  Loop::Id reg_ = 0;
};

}  // namespace ep
