// The Node-API binding: the only file that knows about V8 or Node. It turns JavaScript options into
// ep::Options, engine events into JavaScript objects (one array per batch, through a thread-safe
// function), and method calls (and the typed command objects of `post`) into commands on the engine's
// channel (native/core/host_api.h has both kinds; lib/native.ts their JavaScript shapes).
#include <fcntl.h>
#include <napi.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>

#include "../core/engine.h"

namespace {

// ----------------------------------------------------------------------------------- arguments
// Every method checks its arguments before anything reaches the engine, and coerces nothing: a missing
// argument or one of the wrong type throws a TypeError, a value out of range a RangeError, each with
// code EPCHAT_INVALID_ARGUMENT and `argument` naming what was wrong (`id`, `options.port`).

constexpr const char* kInvalidArgument = "EPCHAT_INVALID_ARGUMENT";
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1: larger doubles skip integers

std::string describe(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: {
      double d = v.As<Napi::Number>().DoubleValue();
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      return buf;
    }
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_bigint: return "a bigint";
    case napi_external: return "an external";
    default: return v.IsArray() ? "an array" : "an object";
  }
}

// Throws the TypeError (range: RangeError) for argument `name` of `where`, which `must` be something.
[[noreturn]] void invalid(const Napi::Value& v, bool range, const std::string& where, const std::string& name,
                          const std::string& must) {
  std::string msg = where + ": " + name + " must be " + must + ", got " + describe(v);
  Napi::Error e = range ? Napi::Error(Napi::RangeError::New(v.Env(), msg)) : Napi::Error(Napi::TypeError::New(v.Env(), msg));
  e.Set("code", kInvalidArgument);
  e.Set("argument", name);
  throw e;
}

// A number that is an integer in [lo, hi] (both within ±2^53).
double int_value(const Napi::Value& v, const std::string& where, const std::string& name, double lo, double hi) {
  auto bad = [&](bool range) {
    char must[96];
    std::snprintf(must, sizeof must, "an integer from %.0f to %.0f", lo, hi);
    invalid(v, range, where, name, must);
  };
  if (!v.IsNumber()) bad(false);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || std::trunc(d) != d) bad(true);
  return d;
}

std::string str_value(const Napi::Value& v, const std::string& where, const std::string& name) {
  if (!v.IsString()) invalid(v, false, where, name, "a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<std::string> str_list(const Napi::Value& v, const std::string& where, const std::string& name) {
  if (!v.IsArray()) invalid(v, false, where, name, "an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(str_value(a.Get(i), where, name + "[" + std::to_string(i) + "]"));
  return out;
}

// Positional arguments of one method call: info[i] is undefined past the last one given.
struct Args {
  const Napi::CallbackInfo& info;
  const char* where;  // "engine.send(id, text)"

  // A client id, as events carry it.
  uint64_t id(size_t i, const char* name) const {
    return static_cast<uint64_t>(int_value(info[i], where, name, 0, kMaxSafeInteger));
  }
  // A request number, echoed in the reply event.
  uint32_t req(size_t i, const char* name) const {
    return static_cast<uint32_t>(int_value(info[i], where, name, 0, std::numeric_limits<uint32_t>::max()));
  }
  std::string str(size_t i, const char* name) const { return str_value(info[i], where, name); }
  // A string, or "" when the argument is left out (undefined).
  std::string optional_str(size_t i, const char* name) const {
    return info[i].IsUndefined() ? std::string() : str_value(info[i], where, name);
  }
  std::vector<std::string> list(size_t i, const char* name) const { return str_list(info[i], where, name); }
  Napi::Object object(size_t i, const char* name) const {
    // An object literal, not an array or a function (whose properties would be read as options).
    if (!info[i].IsObject() || info[i].IsArray() || info[i].IsFunction()) invalid(info[i], false, where, name, "an object");
    return info[i].As<Napi::Object>();
  }
  Napi::Function function(size_t i, const char* name) const {
    if (!info[i].IsFunction()) invalid(info[i], false, where, name, "a function");
    return info[i].As<Napi::Function>();
  }
};

// Fields of an options (or policy) object: each one optional, checked when present.
struct Fields {
  Napi::Object o;
  const char* where;   // "new Engine(options, onEvents)"
  std::string prefix;  // "options": errors name `options.port`

  std::string name(const char* key) const { return prefix + "." + key; }

  // An integer of type T, within [lo, hi] when given (else T's range, capped at ±2^53).
  template <typename T>
  T num(const char* key, T fallback, double lo = static_cast<double>(std::numeric_limits<T>::min()),
        double hi = std::min(static_cast<double>(std::numeric_limits<T>::max()), kMaxSafeInteger)) const {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return fallback;
    return static_cast<T>(int_value(v, where, name(key), lo, hi));
  }
  // A finite number >= 0.
  double real(const char* key, double fallback) const {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return fallback;
    if (!v.IsNumber()) invalid(v, false, where, name(key), "a finite number >= 0");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d < 0) invalid(v, true, where, name(key), "a finite number >= 0");
    return d;
  }
  bool flag(const char* key, bool fallback) const {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return fallback;
    if (!v.IsBoolean()) invalid(v, false, where, name(key), "a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  std::string str(const char* key, const std::string& fallback) const {
    Napi::Value v = o.Get(key);
    return v.IsUndefined() ? fallback : str_value(v, where, name(key));
  }
  std::vector<std::string> list(const char* key) const {
    Napi::Value v = o.Get(key);
    return v.IsUndefined() ? std::vector<std::string>() : str_list(v, where, name(key));
  }
  bool has(const char* key) const { return !o.Get(key).IsUndefined(); }
  // A set of lower-cased names; untouched when the field is absent.
  void set_of(const char* key, std::unordered_set<std::string>* out) const {
    if (!has(key)) return;
    out->clear();
    for (auto& s : list(key)) {
      for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out->insert(s);
    }
  }
};

// An object literal (not an array or a function, whose properties would be read as fields).
Napi::Object object_value(const Napi::Value& v, const std::string& where, const std::string& name) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction()) invalid(v, false, where, name, "an object");
  return v.As<Napi::Object>();
}

// Required fields of a typed command (or host line) object: each one must be there, of its type.
struct Shape {
  Napi::Object o;
  const char* where;
  std::string prefix;  // "command", "command.lines[2]"

  std::string name(const char* key) const { return prefix + "." + key; }
  std::string str(const char* key) const { return str_value(o.Get(key), where, name(key)); }
  std::string optional_str(const char* key) const {
    Napi::Value v = o.Get(key);
    return v.IsUndefined() ? std::string() : str_value(v, where, name(key));
  }
  std::vector<std::string> list(const char* key) const { return str_list(o.Get(key), where, name(key)); }
  uint64_t id(const char* key) const { return static_cast<uint64_t>(int_value(o.Get(key), where, name(key), 0, kMaxSafeInteger)); }
  uint32_t req(const char* key) const {
    return static_cast<uint32_t>(int_value(o.Get(key), where, name(key), 0, std::numeric_limits<uint32_t>::max()));
  }
  uint64_t optional_time(const char* key) const {
    Napi::Value v = o.Get(key);
    return v.IsUndefined() ? 0 : static_cast<uint64_t>(int_value(v, where, name(key), 0, kMaxSafeInteger));
  }
  bool flag(const char* key) const {
    Napi::Value v = o.Get(key);
    if (!v.IsBoolean()) invalid(v, false, where, name(key), "a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  // The `type` field: one of kinds ("a|b|c"), else a RangeError listing them.
  std::string type(const char* kinds) const {
    Napi::Value v = o.Get("type");
    std::string t = str_value(v, where, name("type"));
    std::string k = kinds, must = "one of '";
    for (size_t start = 0;;) {
      size_t bar = k.find('|', start);
      std::string one = k.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
      if (one == t) return t;
      must += one;
      if (bar == std::string::npos) break;
      must += "', '";
      start = bar + 1;
    }
    invalid(v, true, where, name("type"), must + "'");
  }
};

// A structured host line ({type: 'notice' | 'error' | 'list' | 'pm' | 'pmSent' | 'group', …}), its
// content checked as the engine will (host_line_problem): a bad one is a RangeError naming the field.
ep::HostLine read_line(const Napi::Value& v, const char* where, const std::string& name) {
  Shape l{object_value(v, where, name), where, name};
  std::string t = l.type("notice|error|list|pm|pmSent|group");
  ep::HostLine out;
  if (t == "notice") {
    out = ep::line::Notice{l.str("text")};
  } else if (t == "error") {
    out = ep::line::Error{l.str("code"), l.str("text")};
  } else if (t == "list") {
    ep::line::List list{l.str("kind"), l.optional_str("end")};
    Napi::Value rows = l.o.Get("rows");
    if (!rows.IsArray()) invalid(rows, false, where, l.name("rows"), "an array of rows (arrays of strings)");
    Napi::Array a = rows.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) list.rows.push_back(str_list(a.Get(i), where, l.name("rows") + "[" + std::to_string(i) + "]"));
    out = std::move(list);
  } else if (t == "pm") {
    out = ep::line::Pm{l.str("from"), l.str("text"), l.optional_time("time")};
  } else if (t == "pmSent") {
    out = ep::line::PmSent{l.str("to"), l.str("text")};
  } else {
    out = ep::line::Group{l.str("from"), l.str("group"), l.str("text"), l.optional_time("time")};
  }
  std::string field;
  if (const char* why = ep::host_line_problem(out, &field)) {
    Napi::Value bad = l.o.Get(field.substr(0, field.find('[')));
    invalid(bad, true, where, name + "." + field, why);
  }
  return out;
}

std::vector<ep::HostLine> read_lines(const Napi::Value& v, const char* where, const std::string& name) {
  if (!v.IsArray()) invalid(v, false, where, name, "an array of lines");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<ep::HostLine> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(read_line(a.Get(i), where, name + "[" + std::to_string(i) + "]"));
  return out;
}

// { type: 'adopt', fd, address, protocol }: the engine gets a duplicate of fd (non-blocking,
// close-on-exec), so the caller may close its own as soon as post() returns.
ep::HostCmd read_adopt(const Shape& c) {
  const char* where = "engine.post(command)";
  Napi::Value fdv = c.o.Get("fd");
  int fd = static_cast<int>(int_value(fdv, where, c.name("fd"), 0, 1 << 30));
  std::string address = c.str("address");
  Napi::Value pv = c.o.Get("protocol");
  std::string proto = str_value(pv, where, c.name("protocol"));
  if (proto != "line" && proto != "irc") invalid(pv, true, where, c.name("protocol"), "'line' or 'irc'");
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  int fl = dup < 0 ? -1 : fcntl(dup, F_GETFL);
  if (dup < 0 || fl < 0 || fcntl(dup, F_SETFL, fl | O_NONBLOCK) < 0) {
    int e = errno;
    if (dup >= 0) ::close(dup);
    invalid(fdv, true, where, c.name("fd"), std::string("an open descriptor (") + std::strerror(e) + ")");
  }
  return ep::cmd::Adopt{ep::OwnedFd(dup), std::move(address), proto == "irc"};
}

// A typed command object (lib/native.ts EngineCommand), every field checked.
ep::HostCmd read_command(const Napi::Value& v) {
  const char* where = "engine.post(command)";
  Shape c{object_value(v, where, "command"), where, "command"};
  std::string t = c.type("send|reply|announce|kick|query|deliver|login|prompt|protect|finish|adopt|reloadTls");
  if (t == "reloadTls") return ep::cmd::ReloadTls{c.req("req")};
  if (t == "adopt") return read_adopt(c);
  if (t == "send") return ep::cmd::Send{c.id("id"), c.str("text")};
  if (t == "reply") return ep::cmd::Reply{c.id("id"), read_lines(c.o.Get("lines"), where, c.name("lines"))};
  if (t == "announce") return ep::cmd::Announce{c.str("text")};
  if (t == "kick") return ep::cmd::Kick{c.req("req"), c.str("nick"), c.optional_str("reason")};
  if (t == "query") {
    ep::cmd::Query q{c.req("req")};
    Napi::Value what = c.o.Get("what");
    std::string w = str_value(what, where, c.name("what"));
    if (w != "users" && w != "rooms") invalid(what, true, where, c.name("what"), "'users' or 'rooms'");
    q.what = w == "users" ? ep::cmd::What::Users : ep::cmd::What::Rooms;
    return q;
  }
  if (t == "deliver") {
    uint32_t req = c.req("req");
    std::vector<std::string> nicks = c.list("nicks");
    return ep::cmd::Deliver{req, std::move(nicks), read_lines(c.o.Get("lines"), where, c.name("lines"))};
  }
  if (t == "login") return ep::cmd::Login{c.id("id"), c.str("nick")};
  if (t == "prompt") return ep::cmd::Prompt{c.id("id")};
  if (t == "protect") {
    std::vector<std::string> add = c.list("add");
    return ep::cmd::Protect{std::move(add), c.list("remove")};
  }
  uint64_t id = c.id("id");
  uint32_t seq = c.req("seq");
  return ep::cmd::Finish{id, seq, c.flag("close")};
}

// Errors that are not about one argument (the engine's state), with a code too.
[[noreturn]] void fail(Napi::Env env, const char* code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", code);
  throw e;
}

// -------------------------------------------------------------------------------------- options

// Applies every policy field present in o (all checked first: a bad field changes nothing).
void read_policy(const Fields& o, ep::Policy* out) {
  ep::Policy p = *out;
  p.max_line = o.num("maxLineBytes", p.max_line);
  p.max_output = o.num("maxOutputBytes", p.max_output);
  p.registration_timeout_ms = o.num("registrationTimeoutMs", p.registration_timeout_ms);
  p.idle_timeout_ms = o.num("idleTimeoutMs", p.idle_timeout_ms);
  p.flood_rate = o.real("floodRate", p.flood_rate);
  p.flood_burst = o.num("floodBurst", p.flood_burst);
  p.flood_kick = o.num("floodKick", p.flood_kick);
  p.quiet_room_size = o.num("quietRoomSize", p.quiet_room_size);
  p.auto_create_rooms = o.flag("autoCreateRooms", p.auto_create_rooms);
  p.max_rooms = o.num("maxRooms", p.max_rooms);
  p.nick_max = o.num("nickMaxLength", p.nick_max);
  o.set_of("reservedNicks", &p.reserved);
  p.emit_messages = o.flag("emitMessages", p.emit_messages);
  p.lifecycle_events = o.flag("lifecycleEvents", p.lifecycle_events);
  o.set_of("delegate", &p.delegate);
  p.delegate_offline_msg = o.flag("delegateOfflineMsg", p.delegate_offline_msg);
  p.command_timeout_ms = o.num("commandTimeoutMs", p.command_timeout_ms);
  p.tls_handshake_timeout_ms = o.num("tlsHandshakeTimeoutMs", p.tls_handshake_timeout_ms);
  if (o.has("help")) p.help = o.list("help");
  *out = std::move(p);
}

ep::Options read_options(const Fields& o) {
  ep::Options opt;
  opt.host = o.str("host", opt.host);
  opt.port = o.num("port", opt.port, 0, 65535);
  if (!o.flag("lineListener", true)) opt.port = -1;  // the line protocol's listener off (IRC only)
  opt.irc_host = o.str("ircHost", opt.irc_host);
  opt.irc_port = o.num("ircPort", opt.irc_port, -1, 65535);
  opt.tls_cert = o.has("tlsCert") ? o.str("tlsCert", opt.tls_cert) : opt.tls_cert;
  opt.tls_key = o.has("tlsKey") ? o.str("tlsKey", opt.tls_key) : opt.tls_key;
  opt.tls_port = o.num("tlsPort", opt.tls_port, -1, 65535);
  opt.irc_tls_port = o.num("ircTlsPort", opt.irc_tls_port, -1, 65535);
  opt.https_port = o.num("httpsPort", opt.https_port, -1, 65535);
  opt.http_host = o.str("httpHost", opt.http_host);
  opt.http_port = o.num("httpPort", opt.http_port, -1, 65535);
  opt.web_root = o.str("webRoot", opt.web_root);
  if (o.has("wsOrigins")) opt.ws_origins = o.list("wsOrigins");
  opt.ws_max_message = o.num("wsMaxMessage", opt.ws_max_message, 125, 16777216);
  opt.ws_deflate = o.flag("wsDeflate", opt.ws_deflate);
  opt.ws_deflate_min = o.num("wsDeflateMin", opt.ws_deflate_min, 0, 16777216);
  opt.http_timeout_ms = o.num("httpTimeoutMs", opt.http_timeout_ms, 1);
  opt.backlog = o.num("backlog", opt.backlog, 0);
  opt.max_clients = o.num("maxClients", opt.max_clients);
  opt.default_room = o.str("defaultRoom", opt.default_room);
  opt.console = o.flag("console", opt.console);
  opt.handle_signals = o.flag("handleSignals", opt.handle_signals);
  opt.shutdown_grace_ms = o.num("shutdownGraceMs", opt.shutdown_grace_ms);
  opt.protected_nicks = o.list("protectedNicks");
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

// One JavaScript object per event kind (lib/native.ts EngineEvent); std::visit: every kind handled.
struct ToJs {
  Napi::Env env;
  Napi::Object o;
  Napi::Number num(double d) const { return Napi::Number::New(env, d); }
  void head(const char* type, uint64_t id) const {
    o.Set("type", type);
    o.Set("id", num(static_cast<double>(id)));
  }
  void reply(const char* kind, uint32_t req) const {
    o.Set("type", "reply");
    o.Set("req", num(req));
    o.Set("kind", kind);
  }
  Napi::Array strings(const std::vector<std::string>& v) const {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), v[i]);
    return a;
  }
  void operator()(const ep::ev::Connect& e) const { head("connect", e.id), o.Set("address", e.address); }
  void operator()(const ep::ev::Register& e) const { head("register", e.id), o.Set("nick", e.nick); }
  void operator()(const ep::ev::Nick& e) const { head("nick", e.id), o.Set("old", e.old), o.Set("nick", e.nick); }
  void operator()(const ep::ev::Join& e) const { head("join", e.id), o.Set("nick", e.nick), o.Set("room", e.room); }
  void operator()(const ep::ev::Leave& e) const { head("leave", e.id), o.Set("nick", e.nick), o.Set("room", e.room); }
  void operator()(const ep::ev::Message& e) const {
    head("message", e.id), o.Set("nick", e.nick), o.Set("room", nick_or_null(env, e.room)),
        o.Set("to", nick_or_null(env, e.to)), o.Set("text", e.text);
  }
  void operator()(const ep::ev::Disconnect& e) const {
    head("disconnect", e.id), o.Set("nick", nick_or_null(env, e.nick)), o.Set("reason", e.reason);
  }
  void operator()(const ep::ev::Timeout& e) const {
    head("timeout", e.id), o.Set("nick", nick_or_null(env, e.nick)), o.Set("kind", e.kind);
  }
  void operator()(const ep::ev::Command& e) const {
    head("command", e.id), o.Set("nick", nick_or_null(env, e.nick)), o.Set("name", e.name), o.Set("args", e.args),
        o.Set("address", e.address), o.Set("seq", num(e.seq));
  }
  void operator()(const ep::ev::Console& e) const {
    o.Set("type", "console"), o.Set("text", e.text);
    if (e.ready) o.Set("ready", true);
  }
  void operator()(const ep::ev::Signal& e) const { o.Set("type", "signal"), o.Set("signal", e.name); }
  void operator()(const ep::ev::Error& e) const { o.Set("type", "error"), o.Set("code", e.code), o.Set("message", e.message); }
  void operator()(const ep::ev::TlsReloadReply& e) const {
    reply("reloadTls", e.req);
    Napi::Object d = Napi::Object::New(env);
    d.Set("ok", Napi::Boolean::New(env, e.ok));
    if (!e.ok) d.Set("message", e.message);
    o.Set("data", d);
  }
  void operator()(const ep::ev::KickReply& e) const { reply("kick", e.req), o.Set("data", Napi::Boolean::New(env, e.kicked)); }
  void operator()(const ep::ev::DeliverReply& e) const { reply("deliver", e.req), o.Set("data", strings(e.offline)); }
  void operator()(const ep::ev::UsersReply& e) const {
    reply("users", e.req);
    Napi::Array a = Napi::Array::New(env, e.users.size());
    for (size_t i = 0; i < e.users.size(); ++i) {
      Napi::Object u = Napi::Object::New(env);
      u.Set("id", num(static_cast<double>(e.users[i].id)));
      u.Set("nick", e.users[i].nick);
      u.Set("room", e.users[i].room);
      u.Set("address", e.users[i].address);
      a.Set(static_cast<uint32_t>(i), u);
    }
    o.Set("data", a);
  }
  void operator()(const ep::ev::RoomsReply& e) const {
    reply("rooms", e.req);
    Napi::Array a = Napi::Array::New(env, e.rooms.size());
    for (size_t i = 0; i < e.rooms.size(); ++i) {
      Napi::Object r = Napi::Object::New(env);
      r.Set("name", e.rooms[i].name);
      r.Set("members", num(static_cast<double>(e.rooms[i].members)));
      a.Set(static_cast<uint32_t>(i), r);
    }
    o.Set("data", a);
  }
  void operator()(const ep::ev::Closed& e) const { o.Set("type", "closed"), o.Set("stats", stats_object(env, e.stats)); }
};

Napi::Object to_js(Napi::Env env, const ep::HostEvent& e) {
  Napi::Object o = Napi::Object::New(env);
  std::visit(ToJs{env, o}, e);
  return o;
}

// -------------------------------------------------------------------------------------- Engine

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod<&EngineWrap::Listen>("listen"),
                           InstanceMethod<&EngineWrap::Post>("post"),
                           InstanceMethod<&EngineWrap::SetPolicy>("setPolicy"),
                           InstanceMethod<&EngineWrap::Stats>("stats"),
                           InstanceMethod<&EngineWrap::Close>("close"),
                       });
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    Args args{info, "new Engine(options, onEvents)"};
    Napi::Object options = args.object(0, "options");
    Napi::Function on_events = args.function(1, "onEvents");
    options_ = read_options(Fields{options, args.where, "options"});
    on_events_ = Napi::Persistent(on_events);
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
    if (!engine_ || !engine_->running()) fail(env, "EPCHAT_NOT_LISTENING", "the engine is not running");
    return *engine_;
  }

  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (engine_) fail(env, "EPCHAT_ALREADY_LISTENING", "the engine already listened (create a new one)");
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
    if (engine_->irc_port() >= 0) {
      r.Set("ircHost", engine_->irc_host());
      r.Set("ircPort", engine_->irc_port());
    }
    if (engine_->tls_port() >= 0) r.Set("tlsPort", engine_->tls_port());
    if (engine_->irc_tls_port() >= 0) r.Set("ircTlsPort", engine_->irc_tls_port());
    if (engine_->https_port() >= 0) r.Set("httpsPort", engine_->https_port());
    if (engine_->http_port() >= 0) {
      r.Set("httpHost", engine_->http_host());
      r.Set("httpPort", engine_->http_port());
    }
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
      if (std::holds_alternative<ep::ev::Closed>(events[i])) closed = true;
    }
    if (closed) {
      // The thread has published its last batch: join it before JavaScript learns it is closed.
      engine_->join();
      ReleaseTsfn();
    }
    fn.Call({arr});
  }

  // post(command): one typed command (lib/native.ts EngineCommand), checked before it is queued.
  Napi::Value Post(const Napi::CallbackInfo& info) {
    ep::HostCmd c = read_command(info[0]);
    engine(info.Env()).post(std::move(c));
    return info.Env().Undefined();
  }

  Napi::Value SetPolicy(const Napi::CallbackInfo& info) {
    Args args{info, "engine.setPolicy(policy)"};
    read_policy(Fields{args.object(0, "policy"), args.where, "policy"}, &options_.policy);
    if (engine_ && engine_->running()) {
      engine_->post(ep::cmd::SetPolicy{std::make_shared<ep::Policy>(options_.policy)});
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
    if (engine_ && engine_->running()) engine_->post(ep::cmd::Stop{});
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
