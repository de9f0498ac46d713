// epchatd: the engine without Node, for C-level tests, sanitizer runs and profiling.
// Usage: epchatd [--port N] [--host H] [--max-clients N] [--flood-rate R] [--idle-timeout-ms N]
//                [--quiet-room-size N] [--max-output-bytes N] [--irc-port N] [--http-port N] [--web-root DIR]
//                [--tls-cert FILE --tls-key FILE [--tls-port N] [--irc-tls-port N] [--https-port N]] [--console]
// Prints "listening HOST:PORT" once bound, then a line per other listener ("irc", "http" (the web
// client and WebSocket, docs/websocket.md), "tls", "irc-tls", "https": NAME HOST:PORT);
// SIGINT/SIGTERM shut it down gracefully and print the stats.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "../core/engine.h"

namespace {

std::mutex g_mu;
std::condition_variable g_cv;
bool g_ready = false;

bool arg(int argc, char** argv, int* i, const char* name, const char** value) {
  if (std::strcmp(argv[*i], name) != 0) return false;
  if (*i + 1 >= argc) {
    std::fprintf(stderr, "epchatd: %s needs a value\n", name);
    std::exit(2);
  }
  *value = argv[++*i];
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  ep::Options opt;
  opt.handle_signals = true;
  for (int i = 1; i < argc; ++i) {
    const char* v;
    if (arg(argc, argv, &i, "--port", &v)) opt.port = std::atoi(v);
    else if (arg(argc, argv, &i, "--host", &v)) opt.host = v;
    else if (arg(argc, argv, &i, "--max-clients", &v)) opt.max_clients = static_cast<uint32_t>(std::atoi(v));
    else if (arg(argc, argv, &i, "--flood-rate", &v)) opt.policy.flood_rate = std::atof(v);
    else if (arg(argc, argv, &i, "--idle-timeout-ms", &v)) opt.policy.idle_timeout_ms = static_cast<uint32_t>(std::atoi(v));
    else if (arg(argc, argv, &i, "--quiet-room-size", &v)) opt.policy.quiet_room_size = static_cast<uint32_t>(std::atoi(v));
    else if (arg(argc, argv, &i, "--max-output-bytes", &v)) opt.policy.max_output = std::strtoull(v, nullptr, 10);
    else if (arg(argc, argv, &i, "--irc-port", &v)) opt.irc_port = std::atoi(v);
    else if (arg(argc, argv, &i, "--http-port", &v)) opt.http_port = std::atoi(v);
    else if (arg(argc, argv, &i, "--tls-cert", &v)) opt.tls_cert = v;
    else if (arg(argc, argv, &i, "--tls-key", &v)) opt.tls_key = v;
    else if (arg(argc, argv, &i, "--tls-port", &v)) opt.tls_port = std::atoi(v);
    else if (arg(argc, argv, &i, "--irc-tls-port", &v)) opt.irc_tls_port = std::atoi(v);
    else if (arg(argc, argv, &i, "--https-port", &v)) opt.https_port = std::atoi(v);
    else if (arg(argc, argv, &i, "--web-root", &v)) opt.web_root = v;
    else if (std::strcmp(argv[i], "--console") == 0) opt.console = true;
    else {
      std::fprintf(stderr, "epchatd: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  ep::Engine engine(opt, [] {
    std::lock_guard<std::mutex> lock(g_mu);
    g_ready = true;
    g_cv.notify_one();
  });
  std::string code, msg;
  if (!engine.listen(&code, &msg)) {
    std::fprintf(stderr, "epchatd: %s (%s)\n", msg.c_str(), code.c_str());
    return 1;
  }
  std::printf("listening %s:%d\n", engine.host().c_str(), engine.port());
  if (engine.irc_port() >= 0) std::printf("irc %s:%d\n", engine.irc_host().c_str(), engine.irc_port());
  if (engine.http_port() >= 0) std::printf("http %s:%d\n", engine.http_host().c_str(), engine.http_port());
  if (engine.tls_port() >= 0) std::printf("tls %s:%d\n", engine.host().c_str(), engine.tls_port());
  if (engine.irc_tls_port() >= 0) std::printf("irc-tls %s:%d\n", engine.irc_host().c_str(), engine.irc_tls_port());
  if (engine.https_port() >= 0) std::printf("https %s:%d\n", engine.http_host().c_str(), engine.https_port());
  std::fflush(stdout);
  for (bool closed = false; !closed;) {
    std::unique_lock<std::mutex> lock(g_mu);
    g_cv.wait(lock, [] { return g_ready; });
    g_ready = false;
    lock.unlock();
    for (auto& ev : engine.drain()) {
      if (auto* c = std::get_if<ep::ev::Console>(&ev); c && !c->ready) std::printf("%s\n", c->text.c_str());
      if (auto* e = std::get_if<ep::ev::Error>(&ev)) std::fprintf(stderr, "epchatd: %s %s\n", e->code.c_str(), e->message.c_str());
      if (auto* c = std::get_if<ep::ev::Closed>(&ev)) {
        for (auto& kv : c->stats) std::printf("%s %llu\n", kv.first, static_cast<unsigned long long>(kv.second));
        closed = true;
      }
    }
    std::fflush(stdout);
  }
  engine.join();
  return 0;
}
