#include "console.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "stats.h"
#include "termkeys.h"
#include "text.h"

namespace ep {

void Console::out(std::string text) { bridge_->emit(ev::Console{std::move(text)}); }

void Console::open() {
  reg_ = loop_.add(STDIN_FILENO, EPOLLIN, this);
  // A regular file or /dev/null cannot be polled (EPERM): run without a console then.
  if (!reg_) {
    bridge_->emit(ev::Error{"EPCHAT_CONSOLE_UNAVAILABLE",
                            std::string("admin console disabled: stdin cannot be polled: ") + std::strerror(errno)});
  }
}

// The server goes on without a console, and says so.
void Console::close(const std::string& why) {
  if (reg_ && !loop_.remove(reg_) && errno != EBADF && errno != ENOENT)
    out(std::string("console: epoll_ctl: ") + std::strerror(errno));
  reg_ = 0;
  out("console closed" + why + "; server keeps running");
}

void Console::on_io(uint32_t, void*) {
  // Started in the background (`epchat &`): reading the terminal would stop the whole server with
  // SIGTTIN as soon as someone types in the shell.
  pid_t fg = tcgetpgrp(STDIN_FILENO);
  if (fg != -1 && fg != getpgrp()) {
    close(" (the server runs in the background: the terminal's input is not its own)");
    return;
  }
  char buf[4096];
  ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (r <= 0) {
    // stdin closed: the end of input, Ctrl-D, a hang-up.
    close(r < 0 ? std::string(" (read error: ") + std::strerror(errno) + ")" : std::string());
    return;
  }
  bool handled = false;
  in_.feed(
      buf, static_cast<size_t>(r), 4096,
      [&](std::string_view l) {
        line(l);
        handled = true;
        return true;
      },
      [&]() {
        out("console: line too long");
        handled = true;
        return true;
      });
  // Ready for the next command: the host shows its prompt (unless the server is stopping).
  if (handled && !host_->console_stopping()) bridge_->emit(ev::Console{{}, true});
  host_->console_done();
}

void Console::line(std::string_view raw) {
  // Keys a terminal sends as escape sequences or control bytes (arrows, Ctrl-A…) are not text.
  const std::string clean = strip_terminal_keys(raw);
  std::string_view line = text::trim(clean);
  if (line.empty()) return;
  std::string_view word, rest;
  text::split_word(line, &word, &rest);
  std::string cmd = text::lower(word);
  if (cmd == "/stats") {
    for (auto& kv : stats_->snapshot(now_ms_)) out(std::string(kv.first) + " " + std::to_string(kv.second));
  } else if (cmd == "/users") {
    auto users = host_->console_users();
    for (auto& u : users) out(u.nick + " " + u.room + " " + u.address);
    out(std::to_string(users.size()) + " user(s) online");
  } else if (cmd == "/rooms") {
    auto rooms = host_->console_rooms();
    for (auto& r : rooms) out(r.name + " " + std::to_string(r.members));
    out(std::to_string(rooms.size()) + " room(s)");
  } else if (cmd == "/kick") {
    std::string_view nick, reason;
    text::split_word(rest, &nick, &reason);
    if (nick.empty()) out("usage: /kick NICK [reason]");
    else if (host_->console_kick(nick, reason)) out("kicked " + std::string(nick));
    else out("no user named " + std::string(nick));
  } else if (cmd == "/say") {
    if (rest.empty() || text::check_line(rest) != text::Check::Ok) {
      out("usage: /say TEXT (valid UTF-8, no control characters)");
    } else {
      host_->console_announce(rest);
      out("announced to " + std::to_string(stats_->users.get()) + " user(s)");
    }
  } else if (cmd == "/shutdown") {
    out("shutting down");
    host_->console_shutdown();
  } else if (cmd == "/help") {
    out("/stats  /users  /rooms  /kick NICK [reason]  /say TEXT  /shutdown  /help");
  } else {
    out("unknown console command " + std::string(word) + " (try /help)");
  }
}

}  // namespace ep
