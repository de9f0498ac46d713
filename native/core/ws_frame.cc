#include "ws_frame.h"

#include <algorithm>

#include "text.h"
#include "ws_deflate.h"

namespace ep::ws {

namespace {

bool is_control(Opcode op) { return static_cast<uint8_t>(op) & 0x8; }

bool known(uint8_t op) {
  switch (static_cast<Opcode>(op)) {
    case Opcode::Continuation: case Opcode::Text: case Opcode::Binary:
    case Opcode::Close: case Opcode::Ping: case Opcode::Pong:
      return true;
  }
  return false;
}

// A client frame's header size from its second byte: 2, the extended length (0, 2 or 8), the mask.
size_t header_len(uint8_t b1) {
  uint8_t len7 = b1 & 0x7F;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}

}  // namespace

bool valid_close_code(uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  switch (code) {
    case 1000: case 1001: case 1002: case 1003:
    case 1007: case 1008: case 1009: case 1010: case 1011:
      return true;
    default:
      return false;
  }
}

bool Utf8Stream::feed(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint8_t b = p[i];
    if (need_) {
      if (b < lo_ || b > hi_) return false;
      --need_;
      lo_ = 0x80;
      hi_ = 0xBF;
      continue;
    }
    if (b < 0x80) continue;
    if (b >= 0xC2 && b <= 0xDF) need_ = 1;
    else if (b == 0xE0) need_ = 2, lo_ = 0xA0;           // no overlong 3-byte forms
    else if (b == 0xED) need_ = 2, hi_ = 0x9F;           // no surrogates
    else if (b >= 0xE1 && b <= 0xEF) need_ = 2;
    else if (b == 0xF0) need_ = 3, lo_ = 0x90;           // no overlong 4-byte forms
    else if (b >= 0xF1 && b <= 0xF3) need_ = 3;
    else if (b == 0xF4) need_ = 3, hi_ = 0x8F;           // nothing above U+10FFFF
    else return false;                                   // 80-C1, F5-FF
  }
  return true;
}

FrameReader::Step FrameReader::fail(Sink& sink, uint16_t code, const char* why) {
  done_ = true;
  partial_.clear();
  msg_.clear();
  sink.on_error(code, why);
  return Step::Stop;
}

FrameReader::Step FrameReader::stop() {
  done_ = true;
  return Step::Stop;
}

FrameReader::Step FrameReader::frame(char* p, size_t n, size_t* used, Sink& sink) {
  *used = 0;
  if (n < 2) return Step::NeedMore;
  const uint8_t b0 = static_cast<uint8_t>(p[0]), b1 = static_cast<uint8_t>(p[1]);
  const bool fin = b0 & 0x80;
  const uint8_t raw_op = b0 & 0x0F;
  const uint8_t len7 = b1 & 0x7F;
  // Everything the first two bytes can tell is checked before waiting for more.
  const bool rsv1 = b0 & 0x40;
  if ((b0 & 0x30) || (rsv1 && !deflate_)) return fail(sink, kCloseProtocol, "reserved bit set");
  if (!known(raw_op)) return fail(sink, kCloseProtocol, "unknown opcode");
  const Opcode op = static_cast<Opcode>(raw_op);
  // permessage-deflate: RSV1 only on the first frame of a data message (RFC 7692 §6.1).
  if (rsv1 && (is_control(op) || op == Opcode::Continuation))
    return fail(sink, kCloseProtocol, "RSV1 on a control frame or a continuation");
  if (!(b1 & 0x80)) return fail(sink, kCloseProtocol, "client frame not masked");
  if (is_control(op)) {
    if (!fin) return fail(sink, kCloseProtocol, "fragmented control frame");
    if (len7 > 125) return fail(sink, kCloseProtocol, "control frame over 125 bytes");
  } else if (op == Opcode::Continuation) {
    if (frag_op_ == Opcode::Continuation) return fail(sink, kCloseProtocol, "continuation without a message");
  } else if (frag_op_ != Opcode::Continuation) {
    return fail(sink, kCloseProtocol, "new message inside a fragmented one");
  }

  const size_t hlen = header_len(b1);
  uint64_t len = len7;
  if (len7 == 126) {
    if (n < 4) return Step::NeedMore;
    len = (static_cast<uint64_t>(static_cast<uint8_t>(p[2])) << 8) | static_cast<uint8_t>(p[3]);
    if (len < 126) return fail(sink, kCloseProtocol, "length not minimally encoded");
  } else if (len7 == 127) {
    if (n < 10) return Step::NeedMore;
    len = 0;
    for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<uint8_t>(p[i]);
    if (len >> 63) return fail(sink, kCloseProtocol, "length with the top bit set");
    if (len <= 0xFFFF) return fail(sink, kCloseProtocol, "length not minimally encoded");
  }
  const bool compressed = op == Opcode::Continuation ? compressed_ : rsv1;
  if (!is_control(op)) {
    const size_t max_frame = compressed ? compressed_cap(lim_.max_frame) : lim_.max_frame;
    const size_t max_message = compressed ? compressed_cap(lim_.max_message) : lim_.max_message;
    if (len > max_frame) return fail(sink, kCloseTooBig, "frame too big");
    if (msg_.size() + len > max_message) return fail(sink, kCloseTooBig, "message too big");
  }
  const size_t total = hlen + static_cast<size_t>(len);
  *used = total;
  if (n < total) return Step::NeedMore;

  char* payload = p + hlen;
  const char* mask = payload - 4;
  for (size_t i = 0; i < len; ++i) payload[i] ^= mask[i & 3];
  std::string_view body(payload, static_cast<size_t>(len));

  switch (op) {
    case Opcode::Close: {
      if (body.size() == 1) return fail(sink, kCloseProtocol, "close frame with a 1-byte body");
      uint16_t code = kCloseNoStatus;
      std::string_view reason;
      if (body.size() >= 2) {
        code = static_cast<uint16_t>((static_cast<uint8_t>(body[0]) << 8) | static_cast<uint8_t>(body[1]));
        if (!valid_close_code(code)) return fail(sink, kCloseProtocol, "invalid close code");
        reason = body.substr(2);
        Utf8Stream u;
        if (!u.feed(reinterpret_cast<const uint8_t*>(reason.data()), reason.size()) || !u.complete())
          return fail(sink, kCloseInvalidData, "close reason is not UTF-8");
      }
      sink.on_close(code, reason);
      return stop();
    }
    case Opcode::Ping:
      return sink.on_ping(body) ? Step::Frame : stop();
    case Opcode::Pong:
      return sink.on_pong(body) ? Step::Frame : stop();
    default:
      break;
  }

  const Opcode mop = op == Opcode::Continuation ? frag_op_ : op;
  if (compressed) {
    if (!fin) {
      msg_.append(body);
      frag_op_ = mop;
      compressed_ = true;
      return Step::Frame;
    }
    // The whole compressed message, inflated alone (client_no_context_takeover) by the shared
    // inflater, its size held to max_message as it inflates, then checked like any message.
    std::string_view data = body;
    if (op == Opcode::Continuation) {
      msg_.append(body);
      data = msg_;
    }
    std::string_view plain;
    Deflate::Inflated r = deflate_->inflate(data, lim_.max_message, &plain);
    if (r == Deflate::Inflated::TooBig) return fail(sink, kCloseTooBig, "message too big once inflated");
    if (r != Deflate::Inflated::Ok) return fail(sink, kCloseInvalidData, "invalid deflate data");
    frag_op_ = Opcode::Continuation;
    compressed_ = false;
    msg_.clear();
    if (mop == Opcode::Text) {
      Utf8Stream u;
      if (!u.feed(reinterpret_cast<const uint8_t*>(plain.data()), plain.size()) || !u.complete())
        return fail(sink, kCloseInvalidData, "text is not UTF-8");
    }
    return sink.on_message(mop, plain) ? Step::Frame : stop();
  }
  if (mop == Opcode::Text) {
    if (!utf8_.feed(reinterpret_cast<const uint8_t*>(body.data()), body.size()) || (fin && !utf8_.complete()))
      return fail(sink, kCloseInvalidData, "text is not UTF-8");
  }
  if (!fin) {
    msg_.append(body);
    frag_op_ = mop;
    return Step::Frame;
  }
  frag_op_ = Opcode::Continuation;
  utf8_.reset();
  bool go;
  if (op != Opcode::Continuation) {
    go = sink.on_message(mop, body);  // a whole message in one frame: no copy
  } else {
    msg_.append(body);
    go = sink.on_message(mop, msg_);
    msg_.clear();
  }
  return go ? Step::Frame : stop();
}

bool FrameReader::feed(char* data, size_t n, Sink& sink, size_t* used_out) {
  if (used_out) *used_out = n;
  if (done_) return false;
  paused_ = false;
  char* const start = data;
  auto paused = [&]() {
    paused_ = false;
    if (used_out) *used_out = static_cast<size_t>(data - start);
    return true;
  };
  // Complete a frame carried over from the last call, a few bytes at a time: never more than the
  // frame still needs, so partial_ holds exactly one frame's beginning.
  while (!partial_.empty()) {
    size_t used = 0;
    Step s = frame(partial_.data(), partial_.size(), &used, sink);
    if (s == Step::Stop) return false;
    if (s == Step::Frame) {
      partial_.clear();
      if (paused_) return paused();
      break;
    }
    if (n == 0) return true;
    size_t target = used ? used : partial_.size() < 2 ? 2 : header_len(static_cast<uint8_t>(partial_[1]));
    size_t take = std::min(n, target - partial_.size());
    partial_.append(data, take);
    data += take;
    n -= take;
  }
  // Whole frames straight from the caller's bytes; an incomplete tail is kept (bounded: frame()
  // refused any header announcing more than the limits).
  while (n > 0) {
    size_t used = 0;
    Step s = frame(data, n, &used, sink);
    if (s == Step::Stop) return false;
    if (s == Step::NeedMore) {
      partial_.assign(data, n);
      return true;
    }
    data += used;
    n -= used;
    if (paused_) return paused();
  }
  return true;
}

size_t header_size(size_t len) { return len < 126 ? 2 : len <= 0xFFFF ? 4 : 10; }

void append_header(Opcode op, size_t len, std::string* out, bool rsv1) {
  out->push_back(static_cast<char>(0x80 | (rsv1 ? 0x40 : 0) | static_cast<uint8_t>(op)));
  if (len < 126) {
    out->push_back(static_cast<char>(len));
  } else if (len <= 0xFFFF) {
    out->push_back(static_cast<char>(126));
    out->push_back(static_cast<char>(len >> 8));
    out->push_back(static_cast<char>(len & 0xFF));
  } else {
    out->push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((static_cast<uint64_t>(len) >> shift) & 0xFF));
  }
}

void append_frame(Opcode op, std::string_view payload, std::string* out) {
  append_header(op, payload.size(), out);
  out->append(payload);
}

void append_close(uint16_t code, std::string_view reason, std::string* out) {
  reason = text::utf8_prefix(reason, 123);
  append_header(Opcode::Close, 2 + reason.size(), out);
  out->push_back(static_cast<char>(code >> 8));
  out->push_back(static_cast<char>(code & 0xFF));
  out->append(reason);
}

}  // namespace ep::ws
