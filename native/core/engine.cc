#include "engine.h"

#include "server.h"

namespace ep {

Engine::Engine(const Options& opt, std::function<void()> notify) : opt_(opt) {
  bridge_.notify = std::move(notify);
}

Engine::~Engine() { stop(true); }

bool Engine::listen(std::string* code, std::string* msg) {
  if (server_) {
    *code = "EPCHAT_ALREADY_LISTENING";
    *msg = "the engine is already listening";
    return false;
  }
  auto server = std::make_unique<Server>(opt_, &bridge_, &stats_);
  if (!server->open(code, msg)) return false;
  host_ = server->bound_host();
  port_ = server->bound_port();
  irc_host_ = server->irc_bound_host();
  irc_port_ = server->irc_bound_port();
  const Listener* tls = server->listener(Proto::Line, true);
  tls_port_ = tls ? tls->bound_port() : -1;
  const Listener* irc_tls = server->listener(Proto::Irc, true);
  irc_tls_port_ = irc_tls ? irc_tls->bound_port() : -1;
  const Listener* https = server->listener(Proto::Http, true);
  https_port_ = https ? https->bound_port() : -1;
  http_host_ = server->http_bound_host();
  http_port_ = server->http_bound_port();
  server_ = std::move(server);
  thread_ = std::thread([this] {
    server_->run();
    bridge_.close_inbox();  // commands posted after the last pass are never run: drop them now
  });
  return true;
}

std::vector<std::pair<const char*, uint64_t>> Engine::stats_snapshot() const { return stats_.snapshot(mono_ms()); }

void Engine::stop(bool force) {
  if (!thread_.joinable()) return;
  bridge_.post(cmd::Stop{force});
  join();
}

void Engine::join() {
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace ep
