// An incremental reader for one HTTP/1.x request head (RFC 9112), for the engine's HTTP listener:
// no sockets, no chat state. Fed bytes as they arrive, in any split, it stops at the end of the head
// (the empty line) and leaves what follows (a pipelined WebSocket frame, say) to the caller: feed()
// returns how many bytes of each chunk it took. The head is copied once into a buffer that never
// grows past Limits::max_head.
//
// Strict by design (request smuggling hygiene; a browser never trips these):
//   - lines end in CRLF; a bare LF anywhere is 400 (RFC 9112 §2.2 lets a server accept it, but two
//     parsers that disagree on line ends are how smuggling starts); empty lines before the request
//     line are skipped, as §2.2 asks;
//   - request line: method SP target SP version, single spaces; a method of token characters;
//     GET and HEAD served, other known methods 405, unknown ones 501; target origin-form ("/...") or
//     absolute-form ("http(s)://..."), visible ASCII only, longer than max_target 414; version
//     exactly HTTP/1.1 or HTTP/1.0, another HTTP/d.d 505, anything else 400 (checked in this order:
//     shape and characters 400, version 505, target length 414, method 405/501, target form 400);
//   - header lines: a token name, the colon right after it (whitespace before the colon is 400, RFC
//     9112 §5.1), a value of visible bytes, SP, HTAB or obs-text (a NUL or other control is 400),
//     optional whitespace around it trimmed; a line starting with SP/HTAB (obs-fold) is 400;
//   - more than max_headers header lines, or a head longer than max_head, is 431; a request line
//     longer than max_target + 32 is 414 (even before its end arrives);
//   - at the end: HTTP/1.1 needs exactly one Host (RFC 9112 §3.2), HTTP/1.0 at most one; any
//     Content-Length or Transfer-Encoding is 400 (only GET and HEAD get here, and they have no body).
// The first violation in byte order decides the status, so the verdict does not depend on how the
// bytes were split.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ep::http {

// Spans are 32-bit offsets into the head buffer: keep max_head well below 4 GiB.
struct Limits {
  size_t max_head = 8192;    // bytes, request line + headers + the empty line
  size_t max_headers = 64;   // header lines
  size_t max_target = 4096;  // bytes of the request target
};

enum class Method { None, Get, Head };
enum class Version { None, Http10, Http11 };

class RequestReader {
 public:
  enum class State { NeedMore, Done, Error };

  explicit RequestReader(Limits limits = {}) : limits_(limits) {}

  // Takes bytes up to the end of the head; returns how many of these n it took (all of them while
  // NeedMore; after Done the rest of the chunk belongs to the next layer). Once Done or Error, takes
  // nothing more.
  size_t feed(const char* p, size_t n);

  State state() const { return state_; }
  // The status to answer with: 0 while NeedMore or Done, else 400, 405, 414, 431, 501 or 505.
  int status() const { return status_; }
  // A short, fixed description of the error (for the response body and the log); "" if none.
  const char* reason() const { return reason_; }

  // After Done: the request. The views point into the reader's buffer; they stay valid until the
  // reader is reset or destroyed.
  Method method() const { return method_; }
  std::string_view method_name() const { return view(method_span_); }
  std::string_view target() const { return view(target_span_); }
  Version version() const { return version_; }
  std::string_view head() const { return std::string_view(buf_.data(), head_len_); }

  size_t header_count() const { return headers_.size(); }
  std::string_view header_name(size_t i) const { return view(headers_[i].name); }
  std::string_view header_value(size_t i) const { return view(headers_[i].value); }
  // The first header of that name (ASCII case-insensitive), or a null view if none.
  std::string_view header(std::string_view name) const;
  size_t header_count(std::string_view name) const;
  // Whether any header of that name, read as a comma-separated list (RFC 9110 §5.6.1: repeated
  // fields join into one list, blanks around elements ignored), has an element equal to token,
  // ASCII case-insensitively (for Connection and Upgrade).
  bool has_token(std::string_view name, std::string_view token) const;
  // Calls fn(std::string_view element) for each non-empty element of every header of that name,
  // in order (for Sec-WebSocket-Protocol). fn returns false to stop.
  template <typename Fn>
  void for_each_element(std::string_view name, Fn fn) const;

  // Back to the initial state, for a new request; keeps the limits. Frees the buffer.
  void reset();

  const Limits& limits() const { return limits_; }

 private:
  struct Span {
    uint32_t off = 0, len = 0;
  };
  struct Header {
    Span name, value;
  };

  std::string_view view(Span s) const { return std::string_view(buf_.data() + s.off, s.len); }
  void fail(int status, const char* reason);
  // Reads the complete line buf_[start, end) (end at the '\n'); may set Done or Error.
  void line(size_t start, size_t end);
  void request_line(size_t start, size_t end);
  void header_line(size_t start, size_t end);
  void finish();

  Limits limits_;
  State state_ = State::NeedMore;
  int status_ = 0;
  const char* reason_ = "";
  std::string buf_;
  size_t line_start_ = 0;  // first byte of the line being read
  size_t scanned_ = 0;     // bytes of buf_ already searched for '\n'
  size_t head_len_ = 0;
  bool have_request_line_ = false;
  Method method_ = Method::None;
  Version version_ = Version::None;
  Span method_span_, target_span_;
  std::vector<Header> headers_;
};

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);
// RFC 9110 §5.6.2 token characters.
bool is_tchar(unsigned char c);
// Blanks (SP, HTAB) trimmed from both ends.
std::string_view trim_ows(std::string_view s);

template <typename Fn>
void RequestReader::for_each_element(std::string_view name, Fn fn) const {
  for (const Header& h : headers_) {
    if (!iequals(view(h.name), name)) continue;
    std::string_view v = view(h.value);
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view el = trim_ows(v.substr(0, comma));
      v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
      if (!el.empty() && !fn(el)) return;
    }
  }
}

}  // namespace ep::http
