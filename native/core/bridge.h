// The engine's two channels to its host (the Node binding, or the standalone epchatd):
// commands in, from any thread, through a mutex-guarded queue and an eventfd in the engine's epoll set;
// events out, collected during a loop pass and published once per pass, so the host wakes once for a
// batch and never sits on the per-message path.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "options.h"

namespace ep {

enum class EvType : uint8_t {
  Connect,     // a: address
  Register,    // a: nick
  Nick,        // a: old nick, b: new nick
  Join,        // a: nick, b: room
  Leave,       // a: nick, b: room
  Message,     // a: nick, b: room (empty for private), c: recipient (empty for room), d: text
  Disconnect,  // a: nick (empty before registration), b: reason
  Timeout,     // a: nick, b: "idle" | "registration"
  Command,     // a: nick, b: command name, c: arguments, req: sequence number for Finish
  Console,     // a: one line of console output; or flag: ready for the next command (a empty)
  Signal,      // a: signal name
  Error,       // a: code, b: message
  Reply,       // req, b: "users" | "rooms" | "kick" | "deliver"; flag for kick; names for deliver
  Closed,      // stats
};

struct UserRec {
  uint64_t id;
  std::string nick, room, address;
};
struct RoomRec {
  std::string name;
  uint64_t members;
};

struct HostEvent {
  EvType type;
  uint64_t id = 0;
  uint32_t req = 0;
  bool flag = false;
  std::string a, b, c, d;
  std::vector<UserRec> users;
  std::vector<RoomRec> rooms;
  std::vector<std::string> names;
  std::vector<std::pair<const char*, uint64_t>> stats;
};

// Finish (id, req: a Command event's sequence number, flag: close): the host is done with that command;
// the client's lines that waited behind it run now (or, with flag, the connection closes after what
// was queued to it). Every Command event must be finished, or the client waits (Policy's
// command_timeout_ms bounds it).
// Adopt (fd, a: address, b: "line" | "irc"): the engine takes a connected socket as a client (the
// descriptor is the engine's from then on: a duplicate the binding made).
enum class CmdType : uint8_t { Stop, Send, Announce, Kick, Query, Login, Prompt, Protect, SetPolicy, Deliver, Finish, Adopt };

struct HostCmd {
  CmdType type;
  uint64_t id = 0;
  uint32_t req = 0;
  bool flag = false;  // Stop: force (no grace)
  int fd = -1;        // Adopt
  std::string a, b;
  std::vector<std::string> add, remove;
  std::shared_ptr<Policy> policy;
};

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
  std::vector<HostEvent> batch_;
  static constexpr size_t kMaxPending = 1 << 16;  // events waiting for the host
  std::mutex out_mu_;
  std::vector<HostEvent> outbox_;
  uint64_t dropped_ = 0;  // message events dropped since the host last drained (under out_mu_)
};

}  // namespace ep
