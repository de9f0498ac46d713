// The engine as a host sees it: a Server running on its own thread, reached through the Bridge.
// Used by the Node binding and by the standalone epchatd; neither knows about epoll.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bridge.h"
#include "options.h"
#include "stats.h"

namespace ep {

class Server;

class Engine {
 public:
  // notify runs on the engine thread whenever events wait in an empty outbox.
  Engine(const Options& opt, std::function<void()> notify);
  ~Engine();  // stops and joins the thread if it still runs
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Binds and starts the thread. On failure: false, with an errno name in *code and a sentence in *msg.
  bool listen(std::string* code, std::string* msg);
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // The IRC listener's address; port -1 when IRC is off.
  const std::string& irc_host() const { return irc_host_; }
  int irc_port() const { return irc_port_; }
  // The TLS listeners' ports (line protocol, IRC); -1 when off. They listen on host() / irc_host().
  int tls_port() const { return tls_port_; }
  int irc_tls_port() const { return irc_tls_port_; }
  int https_port() const { return https_port_; }
  // The HTTP listener's address; port -1 when it is off.
  const std::string& http_host() const { return http_host_; }
  int http_port() const { return http_port_; }
  bool running() const { return thread_.joinable(); }

  void post(HostCmd cmd) { bridge_.post(std::move(cmd)); }
  std::vector<HostEvent> drain() { return bridge_.drain(); }
  std::vector<std::pair<const char*, uint64_t>> stats_snapshot() const;

  // Asks for a shutdown (graceful unless force) and waits for the thread to end.
  void stop(bool force);
  // Waits for the thread after it published Closed.
  void join();

 private:
  Options opt_;
  Bridge bridge_;
  Stats stats_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::string host_;
  int port_ = 0;
  std::string irc_host_;
  int irc_port_ = -1;
  int tls_port_ = -1;
  int irc_tls_port_ = -1;
  int https_port_ = -1;
  std::string http_host_;
  int http_port_ = -1;
};

}  // namespace ep
