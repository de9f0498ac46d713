// The Node-API binding: the only file that knows about V8 or Node. It turns JavaScript options into
// ep::Options, engine events into JavaScript objects (one array per batch, through a thread-safe
// function), and method calls into commands on the engine's channel.
#include <napi.h>

#include <memory>
#include <mutex>
#include <string>

#include "../core/engine.h"

namespace {

// ------------------------------------------------------------------------------------- options

template <typename T>
T num(const Napi::Object& o, const char* key, T fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("option ") + key + " must be a number");
  return static_cast<T>(v.As<Napi::Number>().DoubleValue());
}

bool flag(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string("option ") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string str(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("option ") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<std::string> strings(const Napi::Value& v, const char* key) {
  std::vector<std::string> out;
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(key) + " must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) throw Napi::TypeError::New(v.Env(), std::string(key) + " must be an array of strings");
    out.push_back(e.As<Napi::String>().Utf8Value());
  }
  return out;
}

void set_of(const Napi::Object& o, const char* key, std::unordered_set<std::string>* out) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return;
  out->clear();
  for (auto& s : strings(v, key)) {
    for (char& c : s)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out->insert(s);
  }
}

// Applies every policy field present in o.
void read_policy(const Napi::Object& o, ep::Policy* p) {
  p->max_line = num(o, "maxLineBytes", p->max_line);
  p->max_output = num(o, "maxOutputBytes", p->max_output);
  p->registration_timeout_ms = num(o, "registrationTimeoutMs", p->registration_timeout_ms);
  p->idle_timeout_ms = num(o, "idleTimeoutMs", p->idle_timeout_ms);
  p->flood_rate = num(o, "floodRate", p->flood_rate);
  p->flood_burst = num(o, "floodBurst", p->flood_burst);
  p->flood_kick = num(o, "floodKick", p->flood_kick);
  p->quiet_room_size = num(o, "quietRoomSize", p->quiet_room_size);
  p->auto_create_rooms = flag(o, "autoCreateRooms", p->auto_create_rooms);
  p->max_rooms = num(o, "maxRooms", p->max_rooms);
  p->nick_max = num(o, "nickMaxLength", p->nick_max);
  set_of(o, "reservedNicks", &p->reserved);
  p->emit_messages = flag(o, "emitMessages", p->emit_messages);
  p->lifecycle_events = flag(o, "lifecycleEvents", p->lifecycle_events);
  set_of(o, "delegate", &p->delegate);
  p->delegate_offline_msg = flag(o, "delegateOfflineMsg", p->delegate_offline_msg);
  if (!o.Get("help").IsUndefined()) p->help = strings(o.Get("help"), "help");
}

ep::Options read_options(const Napi::Object& o) {
  ep::Options opt;
  opt.host = str(o, "host", opt.host);
  opt.port = num(o, "port", opt.port);
  opt.backlog = num(o, "backlog", opt.backlog);
  opt.max_clients = num(o, "maxClients", opt.max_clients);
  opt.default_room = str(o, "defaultRoom", opt.default_room);
  opt.console = flag(o, "console", opt.console);
  opt.handle_signals = flag(o, "handleSignals", opt.handle_signals);
  opt.shutdown_grace_ms = num(o, "shutdownGraceMs", opt.shutdown_grace_ms);
  opt.protected_nicks = strings(o.Get("protectedNicks"), "protectedNicks");
  read_policy(o, &opt.policy);
  return opt;
}

// -------------------------------------------------------------------------------------- events

Napi::Value nick_or_null(Napi::Env env, const std::string& s) {
  return s.empty() ? env.Null() : Napi::String::New(env, s);
}

Napi::Object stats_object(Napi::Env env, const std::vector<std::pair<const char*, uint64_t>>& stats) {
  Napi::Object o = Napi::Object::New(env);
  for (auto& kv : stats) o.Set(kv.first, Napi::Number::New(env, static_cast<double>(kv.second)));
  return o;
}

Napi::Object to_js(Napi::Env env, const ep::HostEvent& e) {
  Napi::Object o = Napi::Object::New(env);
  auto id = [&] { o.Set("id", Napi::Number::New(env, static_cast<double>(e.id))); };
  auto type = [&](const char* t) { o.Set("type", t); };
  switch (e.type) {
    case ep::EvType::Connect: type("connect"), id(), o.Set("address", e.a); break;
    case ep::EvType::Register: type("register"), id(), o.Set("nick", e.a); break;
    case ep::EvType::Nick: type("nick"), id(), o.Set("old", e.a), o.Set("nick", e.b); break;
    case ep::EvType::Join: type("join"), id(), o.Set("nick", e.a), o.Set("room", e.b); break;
    case ep::EvType::Leave: type("leave"), id(), o.Set("nick", e.a), o.Set("room", e.b); break;
    case ep::EvType::Message:
      type("message"), id(), o.Set("nick", e.a), o.Set("room", nick_or_null(env, e.b)),
          o.Set("to", nick_or_null(env, e.c)), o.Set("text", e.d);
      break;
    case ep::EvType::Disconnect:
      type("disconnect"), id(), o.Set("nick", nick_or_null(env, e.a)), o.Set("reason", e.b);
      break;
    case ep::EvType::Timeout: type("timeout"), id(), o.Set("nick", nick_or_null(env, e.a)), o.Set("kind", e.b); break;
    case ep::EvType::Command:
      type("command"), id(), o.Set("nick", nick_or_null(env, e.a)), o.Set("name", e.b), o.Set("args", e.c);
      break;
    case ep::EvType::Console:
      type("console"), o.Set("text", e.a);
      if (e.flag) o.Set("ready", true);
      break;
    case ep::EvType::Signal: type("signal"), o.Set("signal", e.a); break;
    case ep::EvType::Error: type("error"), o.Set("code", e.a), o.Set("message", e.b); break;
    case ep::EvType::Reply: {
      type("reply");
      o.Set("req", Napi::Number::New(env, e.req));
      if (e.b == "kick") {
        o.Set("data", Napi::Boolean::New(env, e.flag));
      } else if (e.b == "deliver") {
        Napi::Array a = Napi::Array::New(env, e.names.size());
        for (size_t i = 0; i < e.names.size(); ++i) a.Set(static_cast<uint32_t>(i), e.names[i]);
        o.Set("data", a);
      } else if (e.b == "users") {
        Napi::Array a = Napi::Array::New(env, e.users.size());
        for (size_t i = 0; i < e.users.size(); ++i) {
          Napi::Object u = Napi::Object::New(env);
          u.Set("id", Napi::Number::New(env, static_cast<double>(e.users[i].id)));
          u.Set("nick", e.users[i].nick);
          u.Set("room", e.users[i].room);
          u.Set("address", e.users[i].address);
          a.Set(static_cast<uint32_t>(i), u);
        }
        o.Set("data", a);
      } else {
        Napi::Array a = Napi::Array::New(env, e.rooms.size());
        for (size_t i = 0; i < e.rooms.size(); ++i) {
          Napi::Object r = Napi::Object::New(env);
          r.Set("name", e.rooms[i].name);
          r.Set("members", Napi::Number::New(env, static_cast<double>(e.rooms[i].members)));
          a.Set(static_cast<uint32_t>(i), r);
        }
        o.Set("data", a);
      }
      break;
    }
    case ep::EvType::Closed: type("closed"), o.Set("stats", stats_object(env, e.stats)); break;
  }
  return o;
}

// -------------------------------------------------------------------------------------- Engine

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod<&EngineWrap::Listen>("listen"),
                           InstanceMethod<&EngineWrap::Send>("send"),
                           InstanceMethod<&EngineWrap::Announce>("announce"),
                           InstanceMethod<&EngineWrap::Kick>("kick"),
                           InstanceMethod<&EngineWrap::Query>("query"),
                           InstanceMethod<&EngineWrap::Deliver>("deliver"),
                           InstanceMethod<&EngineWrap::Login>("login"),
                           InstanceMethod<&EngineWrap::Prompt>("prompt"),
                           InstanceMethod<&EngineWrap::ProtectNicks>("protectNicks"),
                           InstanceMethod<&EngineWrap::SetPolicy>("setPolicy"),
                           InstanceMethod<&EngineWrap::Stats>("stats"),
                           InstanceMethod<&EngineWrap::Close>("close"),
                       });
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "new Engine(options, onEvents)");
    options_ = read_options(info[0].As<Napi::Object>());
    on_events_ = Napi::Persistent(info[1].As<Napi::Function>());
    napi_add_env_cleanup_hook(env, &EngineWrap::Cleanup, this);
  }

  ~EngineWrap() override {
    napi_remove_env_cleanup_hook(Env(), &EngineWrap::Cleanup, this);
    Shutdown();
  }

 private:
  // Process exit or worker teardown: stop the thread now, whatever JavaScript still expects.
  static void Cleanup(void* self) { static_cast<EngineWrap*>(self)->Shutdown(); }

  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(notify_mu_);
      notify_ok_ = false;
    }
    if (engine_) engine_->stop(true);
    ReleaseTsfn();
  }

  void ReleaseTsfn() {
    if (tsfn_live_) {
      tsfn_live_ = false;
      tsfn_.Release();
    }
  }

  ep::Engine& engine(const Napi::Env& env) {
    if (!engine_ || !engine_->running()) throw Napi::Error::New(env, "the engine is not running");
    return *engine_;
  }

  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (engine_) throw Napi::Error::New(env, "the engine already listened (create a new one)");
    tsfn_ = Napi::ThreadSafeFunction::New(env, on_events_.Value(), "epchat-events", 0, 1);
    tsfn_live_ = true;
    notify_ok_ = true;
    engine_ = std::make_unique<ep::Engine>(options_, [this] {
      std::lock_guard<std::mutex> lock(notify_mu_);
      if (notify_ok_) tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function fn) { Deliver(env, fn); });
    });
    std::string code, msg;
    if (!engine_->listen(&code, &msg)) {
      engine_.reset();
      ReleaseTsfn();
      Napi::Error err = Napi::Error::New(env, msg);
      err.Set("code", code);
      throw err;
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("host", engine_->host());
    r.Set("port", engine_->port());
    return r;
  }

  // On the JavaScript thread: every event waiting, as one array. Nothing may escape as a C++
  // exception here (there is no JavaScript caller to catch it): a handler's exception is rethrown
  // into JavaScript, where it is uncaught like any event callback's; while the environment is torn
  // down there is nobody left to tell.
  void Deliver(Napi::Env env, Napi::Function fn) {
    if (env == nullptr || fn.IsEmpty()) return;
    try {
      DeliverBatch(env, fn);
    } catch (const Napi::Error& e) {
      if (!e.Value().IsEmpty()) napi_throw(env, e.Value());
    } catch (const std::exception&) {
      napi_throw_error(env, "EPCHAT_INTERNAL", "epchat: failed to deliver engine events");
    }
  }

  void DeliverBatch(Napi::Env env, Napi::Function fn) {
    if (!engine_) return;
    std::vector<ep::HostEvent> events = engine_->drain();
    if (events.empty()) return;
    bool closed = false;
    Napi::Array arr = Napi::Array::New(env, events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      arr.Set(static_cast<uint32_t>(i), to_js(env, events[i]));
      if (events[i].type == ep::EvType::Closed) closed = true;
    }
    if (closed) {
      // The thread has published its last batch: join it before JavaScript learns it is closed.
      engine_->join();
      ReleaseTsfn();
    }
    fn.Call({arr});
  }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    ep::HostCmd c{ep::CmdType::Send};
    c.id = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
    c.a = info[1].As<Napi::String>().Utf8Value();
    engine(info.Env()).post(std::move(c));
    return info.Env().Undefined();
  }

  Napi::Value Announce(const Napi::CallbackInfo& info) {
    ep::HostCmd c{ep::CmdType::Announce};
    c.a = info[0].As<Napi::String>().Utf8Value();
    engine(info.Env()).post(std::move(c));
    return info.Env().Undefined();
  }

  Napi::Value Kick(const Napi::CallbackInfo& info) {
    ep::HostCmd c{ep::CmdType::Kick};
    c.req = info[0].As<Napi::Number>().Uint32Value();
    c.a = info[1].As<Napi::String>().Utf8Value();
    c.b = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : std::string();
    engine(info.Env()).post(std::move(c));
    return info.Env().Undefined();
  }

  Napi::Value Query(const Napi::CallbackInfo& info) {
    ep::HostCmd c{ep::CmdType::Query};
    c.req = info[0].As<Napi::Number>().Uint32Value();
    c.a = info[1].As<Napi::String>().Utf8Value();
    if (c.a != "users" && c.a != "rooms") throw Napi::TypeError::New(info.Env(), "query: users or rooms");
    engine(info.Env()).post(std::move(c));
    return info.Env().Undefined();
  }

  Napi::Value Deliver(const Napi::CallbackInfo& info) {
    ep::HostCmd c{ep::CmdType::Deliver};
    c.req = info[0].As<Napi::Number>().Uint32Value();
    c.add = strings(info[1], "nicks");
    c.a = info[2].As<Napi::String>().Utf8Value();
    engine(info.Env()).post(std::move(c));
    return info.Env().Undefined();
  }

  Napi::Value Login(const Napi::CallbackInfo& info) {
    ep::HostCmd c{ep::CmdType::Login};
    c.id = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
    c.a = info[1].As<Napi::String>().Utf8Value();
    engine(info.Env()).post(std::move(c));
    return info.Env().Undefined();
  }

  Napi::Value Prompt(const Napi::CallbackInfo& info) {
    ep::HostCmd c{ep::CmdType::Prompt};
    c.id = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
    engine(info.Env()).post(std::move(c));
    return info.Env().Undefined();
  }

  Napi::Value ProtectNicks(const Napi::CallbackInfo& info) {
    ep::HostCmd c{ep::CmdType::Protect};
    c.add = strings(info[0], "add");
    c.remove = strings(info[1], "remove");
    engine(info.Env()).post(std::move(c));
    return info.Env().Undefined();
  }

  Napi::Value SetPolicy(const Napi::CallbackInfo& info) {
    if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "setPolicy(policy)");
    read_policy(info[0].As<Napi::Object>(), &options_.policy);
    if (engine_ && engine_->running()) {
      ep::HostCmd c{ep::CmdType::SetPolicy};
      c.policy = std::make_shared<ep::Policy>(options_.policy);
      engine_->post(std::move(c));
    }
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    if (!engine_) {
      ep::Stats empty;
      return stats_object(info.Env(), empty.snapshot(0));
    }
    return stats_object(info.Env(), engine_->stats_snapshot());
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (engine_ && engine_->running()) engine_->post(ep::HostCmd{ep::CmdType::Stop});
    return info.Env().Undefined();
  }

  ep::Options options_;
  Napi::FunctionReference on_events_;
  std::unique_ptr<ep::Engine> engine_;
  Napi::ThreadSafeFunction tsfn_;
  bool tsfn_live_ = false;
  std::mutex notify_mu_;
  bool notify_ok_ = false;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(epchat, Init)
