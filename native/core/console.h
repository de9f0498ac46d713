// The admin console: commands typed on the server's stdin (/stats, /users, /rooms, /kick, /say,
// /shutdown, /help), as a loop handler. Replies go to the host as Console events. Keys a terminal
// sends as escape sequences or control bytes are stripped (termkeys.h). If stdin cannot be polled (a
// regular file, /dev/null), ends, fails, or belongs to the foreground of another process group (the
// server runs in the background), the console closes and the server keeps running, saying so.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bridge.h"
#include "linein.h"
#include "loop.h"

namespace ep {

struct Stats;

// What the console asks of the server.
class ConsoleHost {
 public:
  virtual ~ConsoleHost() = default;
  virtual std::vector<UserRec> console_users() const = 0;
  virtual std::vector<RoomRec> console_rooms() const = 0;
  virtual bool console_kick(std::string_view nick, std::string_view reason) = 0;
  virtual void console_announce(std::string_view text) = 0;
  virtual void console_shutdown() = 0;
  virtual bool console_stopping() const = 0;
  // After a read's commands ran: the server settles what they caused (slow clients to drop).
  virtual void console_done() = 0;
};

class Console final : public Handler {
 public:
  Console(Loop& loop, Bridge* bridge, const Stats* stats, ConsoleHost* host, const uint64_t& now_ms)
      : loop_(loop), bridge_(bridge), stats_(stats), host_(host), now_ms_(now_ms) {}
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Watches stdin; if it cannot be polled, reports EPCHAT_CONSOLE_UNAVAILABLE and runs without.
  void open();
  void on_io(uint32_t events, void* ctx) override;
  // One command line, as typed (public for the tests).
  void line(std::string_view raw);

 private:
  void out(std::string text);
  void close(const std::string& why);

  Loop& loop_;
  Bridge* bridge_;
  const Stats* stats_;
  ConsoleHost* host_;
  const uint64_t& now_ms_;
  LineIn in_;
  Loop::Id reg_ = 0;
};

}  // namespace ep
