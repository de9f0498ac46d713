// WebSocket framing (RFC 6455 §5): reading what a client sends and writing what the server sends.
// Bytes only: no sockets, no chat state. The handshake is HTTP's business (http_request.h); this
// starts once the connection is upgraded.
//
// Reading is strict, as §5 and §7 ask of a server: client frames are masked; lengths use their
// minimal encoding; control frames carry at most 125 bytes and are never fragmented, and may arrive
// between the fragments of a message; no reserved bit is set, except RSV1 on the first frame of a
// data message once permessage-deflate is negotiated (set_deflate: that message is compressed,
// ws_deflate.h); text is UTF-8, checked across fragment boundaries as it arrives (a compressed
// message: once inflated); frame and message sizes are capped (a compressed message: its inflated
// size too). A violation ends the stream with the close code to send: 1002 protocol error, 1007
// invalid data (bad UTF-8, bad deflate data), 1009 too big.
//
// Writing: server frames are never masked, so one frame (header + payload) is the same bytes for every
// recipient of a message — fan-out builds it once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ep::ws {

class Deflate;

enum class Opcode : uint8_t { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

// Close codes (RFC 6455 §7.4.1).
constexpr uint16_t kCloseNormal = 1000;
constexpr uint16_t kCloseGoingAway = 1001;
constexpr uint16_t kCloseProtocol = 1002;
constexpr uint16_t kCloseUnsupported = 1003;
constexpr uint16_t kCloseNoStatus = 1005;  // reported when a Close frame carries no code; never sent
constexpr uint16_t kCloseInvalidData = 1007;
constexpr uint16_t kClosePolicy = 1008;
constexpr uint16_t kCloseTooBig = 1009;
constexpr uint16_t kCloseInternal = 1011;

// A code a peer may send in a Close frame: 1000-1003, 1007-1011, or 3000-4999.
bool valid_close_code(uint16_t code);

// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF), validated incrementally so a
// sequence may straddle fragments or reads.
class Utf8Stream {
 public:
  // False at the first byte that cannot continue valid UTF-8; the stream is then spent.
  bool feed(const uint8_t* p, size_t n);
  // True when no sequence is left open.
  bool complete() const { return need_ == 0; }
  void reset() { need_ = 0; }

 private:
  uint8_t need_ = 0;   // continuation bytes still expected
  uint8_t lo_ = 0x80;  // allowed range of the next continuation byte (narrowed after E0, ED, F0, F4)
  uint8_t hi_ = 0xBF;
};

struct Limits {
  size_t max_frame = 16 * 1024;    // payload bytes of one frame
  size_t max_message = 16 * 1024;  // payload bytes of one message, across its fragments
};

// The compressed bytes a compressed frame or message may carry for a limit of n: n plus deflate's
// worst-case growth on data that does not compress (the inflated size is held to n itself).
inline size_t compressed_cap(size_t n) { return n + n / 128 + 64; }

// What a FrameReader hands to its owner.
class Sink {
 public:
  virtual ~Sink() = default;
  // A whole data message, unmasked (text already validated as UTF-8). Return false to stop reading.
  virtual bool on_message(Opcode op, std::string_view payload) = 0;
  // Control frames (≤ 125 bytes). The owner answers a ping with a pong of the same payload.
  virtual bool on_ping(std::string_view payload) = 0;
  virtual bool on_pong(std::string_view payload) = 0;
  // The peer's Close (kCloseNoStatus when it gave no code). The reader is finished afterwards.
  virtual void on_close(uint16_t code, std::string_view reason) = 0;
  // A violation: the owner sends a Close with close_code and closes. The reader is finished.
  virtual void on_error(uint16_t close_code, const char* why) = 0;
};

class FrameReader {
 public:
  explicit FrameReader(Limits limits = {}) : lim_(limits) {}
  // permessage-deflate was negotiated: RSV1 on a message's first frame means compressed, inflated
  // by d (shared by every connection, reset per message; it must outlive the reader).
  void set_deflate(Deflate* d) { deflate_ = d; }

  // Reads the bytes a client sent; calls the sink for each complete message and control frame.
  // Unmasks in place, so `data` is modified. Returns false once the stream has ended (a Close, an
  // error, or the sink asked to stop); later calls do nothing and return false.
  // used (if given): how many of the n bytes were taken, which is fewer than n only after pause().
  bool feed(char* data, size_t n, Sink& sink, size_t* used = nullptr);
  // Called by the sink from on_message: feed() returns after this message, leaving the bytes that
  // follow it untouched (still masked) for a later feed (the owner holds them while its input waits).
  void pause() { paused_ = true; }

  bool finished() const { return done_; }
  // Bytes held between calls: a partial frame (at most 14 + max(max_frame, 125)) and a fragmented
  // message's earlier fragments (at most max_message); with deflate, compressed_cap of those.
  size_t buffered() const { return partial_.size() + msg_.size(); }

 private:
  enum class Step { Frame, NeedMore, Stop };
  // Parses one frame at p (n bytes available); *used is its size when Step::Frame, or the size the
  // frame will have when NeedMore and the header is complete (0 when even the header is short).
  Step frame(char* p, size_t n, size_t* used, Sink& sink);
  Step fail(Sink& sink, uint16_t code, const char* why);  // ends the stream with a close code
  Step stop();                                           // ends it quietly

  Limits lim_;
  std::string partial_;  // an incomplete frame carried to the next feed
  std::string msg_;      // earlier fragments of the message in progress
  Opcode frag_op_ = Opcode::Continuation;  // Text/Binary while a fragmented message is open
  Utf8Stream utf8_;
  Deflate* deflate_ = nullptr;  // set when permessage-deflate was negotiated
  bool compressed_ = false;     // the open fragmented message is compressed
  bool done_ = false;
  bool paused_ = false;
};

// Size of a server frame header for a payload of len bytes: 2, 4 or 10.
size_t header_size(size_t len);
// Appends a final (FIN), unmasked server frame header for a payload of len bytes; rsv1: the payload
// is a compressed message (permessage-deflate).
void append_header(Opcode op, size_t len, std::string* out, bool rsv1 = false);
// Appends a whole server frame.
void append_frame(Opcode op, std::string_view payload, std::string* out);
// Appends a Close frame: the code, then the reason cut to fit 125 bytes at a UTF-8 boundary.
void append_close(uint16_t code, std::string_view reason, std::string* out);

}  // namespace ep::ws
