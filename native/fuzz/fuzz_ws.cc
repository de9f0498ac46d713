// fuzz_ws: the WebSocket frame reader and writer (native/core/ws_frame.h) on arbitrary client bytes.
//
// Input: 2 bytes choosing the limits (max frame 1-300 bytes, max message up to 600 more), 4 bytes
// of chunk-size seed (the top bit of the fourth: permessage-deflate negotiated, ws_deflate.h), then
// the bytes a client sends after the handshake.
// Invariants:
//   - The reader reports exactly the events of an independent whole-buffer reference decoder below
//     (messages, pings, pongs, the peer's close, or the first violation with its close code), and
//     the same events whether the bytes arrive in one call or in fuzzed pieces.
//   - A text message is valid UTF-8; no message exceeds max_message; control payloads are ≤ 125.
//   - A reader paused after every k-th message (its owner's input waiting on the host) takes only
//     the bytes up to that message; feeding the untouched rest again gives the same events.
//   - Nothing is reported after a close or a violation; buffered() stays within 14 +
//     max(max_frame, 125) + max_message (compressed_cap of those with deflate).
//   - With deflate: RSV1 messages are inflated by one shared inflater reset per message, with the
//     same events as the reference's fresh inflater per message (size capped at max_message
//     inflated: 1009; bad data: 1007; text checked once inflated); the server's compress() of any
//     payload inflates back to it; messages re-sent compressed read back the same.
//   - Every message, framed again as a client would (masked, split into fragments with pings in
//     between), reads back the same through a fresh reader; a server frame from append_frame has
//     the header the RFC describes.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <zlib.h>

#include "../core/ws_deflate.h"
#include "../core/ws_frame.h"
#include "fuzz_util.h"

namespace {

using ep::ws::Opcode;

struct Event {
  char kind;  // T text, B binary, P ping, O pong, C close, E error
  uint16_t code = 0;
  std::string data;
  bool operator==(const Event& o) const { return kind == o.kind && code == o.code && data == o.data; }
};

struct Recorder : ep::ws::Sink {
  std::vector<Event> ev;
  bool ended = false;
  bool on_message(Opcode op, std::string_view p) override {
    FUZZ_CHECK(!ended, "message after the end");
    ev.push_back({op == Opcode::Text ? 'T' : 'B', 0, std::string(p)});
    return true;
  }
  bool on_ping(std::string_view p) override {
    FUZZ_CHECK(!ended && p.size() <= 125, "bad ping");
    ev.push_back({'P', 0, std::string(p)});
    return true;
  }
  bool on_pong(std::string_view p) override {
    FUZZ_CHECK(!ended && p.size() <= 125, "bad pong");
    ev.push_back({'O', 0, std::string(p)});
    return true;
  }
  void on_close(uint16_t code, std::string_view reason) override {
    FUZZ_CHECK(!ended, "close after the end");
    ended = true;
    ev.push_back({'C', code, std::string(reason)});
  }
  void on_error(uint16_t code, const char*) override {
    FUZZ_CHECK(!ended, "error after the end");
    ended = true;
    ev.push_back({'E', code, {}});
  }
};

bool utf8_ok(std::string_view s) { return fuzz::classify(s) != fuzz::Verdict::BadUtf8; }

// The engine's shared streams: one per process, as one per Server, used by every reader below.
ep::ws::Deflate& shared() {
  static ep::ws::Deflate d;
  return d;
}

// The reference inflater: a fresh zlib stream per message. 0 ok, 1009 too big, 1007 bad data.
uint16_t ref_inflate(const std::string& in, size_t max, std::string* out) {
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) return 1007;
  std::string src = in + std::string("\x00\x00\xff\xff", 4);
  out->assign(max + 1, '\0');
  z.next_in = reinterpret_cast<Bytef*>(&src[0]);
  z.avail_in = static_cast<uInt>(src.size());
  z.next_out = reinterpret_cast<Bytef*>(&(*out)[0]);
  z.avail_out = static_cast<uInt>(max + 1);
  uint16_t code = 1007;
  for (;;) {
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (z.avail_out == 0) { code = 1009; break; }
    if (rc == Z_STREAM_END) {
      bool tail_only = z.avail_in == 0 || (z.avail_in == 4 && std::memcmp(z.next_in, "\x00\x00\xff\xff", 4) == 0);
      code = tail_only ? 0 : 1007;
      break;
    }
    if ((rc == Z_OK || rc == Z_BUF_ERROR) && z.avail_in == 0) { code = 0; break; }
    if (rc != Z_OK) break;
  }
  out->resize(max + 1 - z.avail_out);
  inflateEnd(&z);
  return code;
}

// The reference: the whole stream at once, checks in the order the reader documents (header rules,
// length encoding, size limits, then content).
std::vector<Event> reference(std::string s, const ep::ws::Limits& lim, bool deflate) {
  std::vector<Event> ev;
  int frag = -1;  // opcode of the open fragmented message
  bool frag_z = false;  // the open fragmented message is compressed
  std::string msg;
  size_t pos = 0;
  auto err = [&](uint16_t code) { ev.push_back({'E', code, {}}); };
  for (;;) {
    if (s.size() - pos < 2) return ev;
    uint8_t b0 = s[pos], b1 = s[pos + 1];
    bool fin = b0 & 0x80;
    int op = b0 & 0x0F;
    uint64_t len = b1 & 0x7F;
    bool control = op >= 8;
    bool rsv1 = b0 & 0x40;
    if ((b0 & 0x30) || (rsv1 && !deflate)) return err(1002), ev;
    if (!(op <= 2 || (op >= 8 && op <= 10))) return err(1002), ev;
    if (rsv1 && (control || op == 0)) return err(1002), ev;
    if (!(b1 & 0x80)) return err(1002), ev;
    if (control && (!fin || len > 125)) return err(1002), ev;
    if (op == 0 && frag < 0) return err(1002), ev;
    if ((op == 1 || op == 2) && frag >= 0) return err(1002), ev;
    size_t at = pos + 2;
    if (len == 126) {
      if (s.size() - pos < 4) return ev;
      len = (uint8_t(s[at]) << 8) | uint8_t(s[at + 1]);
      at += 2;
      if (len < 126) return err(1002), ev;
    } else if (len == 127) {
      if (s.size() - pos < 10) return ev;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | uint8_t(s[at + i]);
      at += 8;
      if (len >> 63 || len <= 0xFFFF) return err(1002), ev;
    }
    bool z = op == 0 ? frag_z : rsv1;
    size_t mf = z ? ep::ws::compressed_cap(lim.max_frame) : lim.max_frame;
    size_t mm = z ? ep::ws::compressed_cap(lim.max_message) : lim.max_message;
    if (!control && (len > mf || msg.size() + len > mm)) return err(1009), ev;
    if (s.size() - at < 4 || s.size() - at - 4 < len) return ev;
    std::string body = s.substr(at + 4, len);
    for (size_t i = 0; i < body.size(); ++i) body[i] ^= s[at + (i % 4)];
    pos = at + 4 + len;
    if (op == 8) {
      if (body.size() == 1) return err(1002), ev;
      if (body.empty()) return ev.push_back({'C', 1005, {}}), ev;
      uint16_t code = (uint8_t(body[0]) << 8) | uint8_t(body[1]);
      if (!ep::ws::valid_close_code(code)) return err(1002), ev;
      if (!utf8_ok(body.substr(2))) return err(1007), ev;
      return ev.push_back({'C', code, body.substr(2)}), ev;
    }
    if (op == 9 || op == 10) {
      ev.push_back({op == 9 ? 'P' : 'O', 0, body});
      continue;
    }
    int mop = op == 0 ? frag : op;
    msg += body;
    if (z) {
      if (!fin) {
        frag = mop;
        frag_z = true;
        continue;
      }
      std::string plain;
      uint16_t code = ref_inflate(msg, lim.max_message, &plain);
      if (code) return err(code), ev;
      if (mop == 1 && !utf8_ok(plain)) return err(1007), ev;
      ev.push_back({mop == 1 ? 'T' : 'B', 0, plain});
      msg.clear();
      frag = -1;
      frag_z = false;
      continue;
    }
    // Text is checked as it arrives: a prefix that can no longer become UTF-8 fails at once.
    if (mop == 1) {
      ep::ws::Utf8Stream u;
      bool ok = u.feed(reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
      if (!ok || (fin && !u.complete())) return err(1007), ev;
    }
    if (!fin) {
      frag = mop;
      continue;
    }
    if (mop == 1) FUZZ_CHECK(utf8_ok(msg), "reference accepted bad UTF-8");
    ev.push_back({mop == 1 ? 'T' : 'B', 0, msg});
    msg.clear();
    frag = -1;
  }
}

size_t bound(const ep::ws::Limits& lim, bool deflate) {
  size_t b = 14 + std::max<size_t>(lim.max_frame, 125) + lim.max_message;
  return deflate ? 14 + std::max<size_t>(ep::ws::compressed_cap(lim.max_frame), 125) + ep::ws::compressed_cap(lim.max_message) : b;
}

std::vector<Event> read_all(std::string s, const ep::ws::Limits& lim, fuzz::Chunker* ch, bool deflate) {
  ep::ws::FrameReader r(lim);
  if (deflate) r.set_deflate(&shared());
  Recorder rec;
  size_t off = 0;
  while (off < s.size()) {
    size_t n = ch ? ch->next() : s.size();
    if (n > s.size() - off) n = s.size() - off;
    bool more = r.feed(&s[off], n, rec);
    FUZZ_CHECK(r.buffered() <= bound(lim, deflate), "buffered %zu", r.buffered());
    off += n;
    if (!more) {
      FUZZ_CHECK(r.finished() && !r.feed(&s[0], 0, rec), "reader goes on after the end");
      break;
    }
  }
  return rec.ev;
}

// Pauses the reader after every `every`-th message, as the server does while a command waits.
struct Pauser : Recorder {
  ep::ws::FrameReader* r = nullptr;
  unsigned every = 1, count = 0;
  bool paused = false;
  bool on_message(Opcode op, std::string_view p) override {
    bool go = Recorder::on_message(op, p);
    if (++count % every == 0) {
      r->pause();
      paused = true;
    }
    return go;
  }
};

std::vector<Event> read_paused(std::string s, const ep::ws::Limits& lim, fuzz::Chunker* ch, unsigned every,
                               bool deflate) {
  ep::ws::FrameReader r(lim);
  if (deflate) r.set_deflate(&shared());
  Pauser rec;
  rec.r = &r;
  rec.every = every;
  size_t off = 0;
  for (int guard = 0; off < s.size() && guard < 1000000; ++guard) {
    size_t n = ch->next();
    if (n > s.size() - off) n = s.size() - off;
    size_t used = 0;
    rec.paused = false;
    bool more = r.feed(&s[off], n, rec, &used);
    FUZZ_CHECK(used <= n && (used == n || rec.paused), "took %zu of %zu bytes without a pause", used, n);
    off += used;  // after a pause the rest of the chunk is fed again, as the server's held input is
    if (!more) break;
  }
  return rec.ev;
}

// A client's frame: masked with a key derived from seed.
void client_frame(Opcode op, bool fin, std::string_view payload, uint8_t seed, std::string* out, bool rsv1 = false) {
  std::string hdr;
  ep::ws::append_header(op, payload.size(), &hdr, rsv1);
  if (!fin) hdr[0] = static_cast<char>(hdr[0] & 0x7F);
  hdr[1] = static_cast<char>(hdr[1] | 0x80);
  out->append(hdr);
  char key[4] = {static_cast<char>(seed), static_cast<char>(seed * 7), static_cast<char>(seed + 13), 0x5A};
  out->append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i) out->push_back(payload[i] ^ key[i % 4]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Bytes in{data, size};
  ep::ws::Limits lim;
  lim.max_frame = 1 + in.u8() % 300;
  lim.max_message = lim.max_frame + in.u8() % 600;
  fuzz::Chunker ch;
  for (auto& s : ch.seed) s = in.u8();
  const bool deflate = ch.seed[3] & 0x80;
  std::string stream(reinterpret_cast<const char*>(in.p), in.n);

  std::vector<Event> whole = read_all(stream, lim, nullptr, deflate);
  std::vector<Event> pieces = read_all(stream, lim, &ch, deflate);
  FUZZ_CHECK(whole == pieces, "events depend on read boundaries (%zu vs %zu)", whole.size(), pieces.size());
  FUZZ_CHECK(read_paused(stream, lim, &ch, 1 + ch.seed[1] % 3, deflate) == whole, "pausing changed the events");
  std::vector<Event> ref = reference(stream, lim, deflate);
  FUZZ_CHECK(whole == ref, "reader and reference disagree (%zu vs %zu events)", whole.size(), ref.size());

  // Every message read back after framing it again, in fragments with pings between them.
  std::string again;
  std::vector<Event> expect;
  uint8_t seed = ch.seed[0];
  for (const Event& e : whole) {
    if (e.kind != 'T' && e.kind != 'B') continue;
    FUZZ_CHECK(e.data.size() <= lim.max_message, "message over the limit");
    if (e.kind == 'T') FUZZ_CHECK(utf8_ok(e.data), "text message is not UTF-8");
    // With deflate, every other message is sent compressed (as the server compresses it).
    std::string zdata;
    const bool z = deflate && (seed & 1) && shared().compress(e.data, &zdata);
    const std::string& data = z ? zdata : e.data;
    size_t piece = 1 + seed % lim.max_frame;
    size_t off = 0;
    bool first = true;
    do {
      size_t n = std::min(piece, data.size() - off);
      bool fin = off + n == data.size();
      client_frame(first ? (e.kind == 'T' ? Opcode::Text : Opcode::Binary) : Opcode::Continuation, fin,
                   std::string_view(data).substr(off, n), seed++, &again, z && first);
      if (!fin) {
        client_frame(Opcode::Ping, true, "p", seed, &again);
        expect.push_back({'P', 0, "p"});
      }
      off += n;
      first = false;
    } while (off < data.size());
    expect.push_back(e);
  }
  client_frame(Opcode::Close, true, std::string("\x03\xE8" "bye", 5), seed, &again);
  expect.push_back({'C', 1000, "bye"});
  FUZZ_CHECK(read_all(again, lim, &ch, deflate) == expect, "re-framed messages read back differently");

  // The server's compression of any payload inflates back to it, through a fresh stream and the
  // shared one alike.
  if (deflate) {
    std::string_view p(stream.data(), std::min<size_t>(stream.size(), 4096));
    std::string zp;
    FUZZ_CHECK(shared().compress(p, &zp), "compress failed");
    std::string back;
    FUZZ_CHECK(ref_inflate(zp, p.size(), &back) == 0 && back == p, "compressed payload does not inflate back");
    std::string_view again_p;
    FUZZ_CHECK(shared().inflate(zp, p.size(), &again_p) == ep::ws::Deflate::Inflated::Ok && again_p == p,
               "shared inflater disagrees");
  }

  // A server frame's header.
  std::string_view payload(stream.data(), std::min<size_t>(stream.size(), 70000));
  std::string frame;
  ep::ws::append_frame(Opcode::Text, payload, &frame);
  size_t h = ep::ws::header_size(payload.size());
  FUZZ_CHECK(frame.size() == h + payload.size() && uint8_t(frame[0]) == 0x81 && !(frame[1] & 0x80), "server frame header");
  FUZZ_CHECK(std::memcmp(frame.data() + h, payload.data(), payload.size()) == 0, "server frame payload");
  return 0;
}
