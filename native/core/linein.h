// Input framing for line protocols: splits bytes into lines ending in "\n" or "\r\n", bounded by a
// maximum line length. Complete lines in a read are handed out straight from the read buffer; only
// a line that straddles two reads is copied, into a buffer that exists just while it is pending.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace ep {

class LineIn {
 public:
  LineIn() = default;
  LineIn(const LineIn&) = delete;
  LineIn& operator=(const LineIn&) = delete;
  ~LineIn() { std::free(buf_); }

  // Calls on_line(std::string_view) for each complete line (line ending removed) and on_too_long()
  // once for each line longer than max bytes, which is discarded whole. Either callback returns false
  // to stop; *used (if given) says how many bytes of p were taken, so the caller may feed the rest
  // later (after a stop in on_line nothing is pending). Returns false when stopped or out of memory.
  template <typename OnLine, typename OnTooLong>
  bool feed(const char* p, size_t n, size_t max, OnLine on_line, OnTooLong on_too_long, size_t* used = nullptr);

  bool pending() const { return len_ > 0 || discarding_; }

 private:
  bool append(const char* p, size_t n);
  void reset() {
    std::free(buf_);
    buf_ = nullptr;
    len_ = cap_ = 0;
  }

  char* buf_ = nullptr;
  uint32_t len_ = 0;
  uint32_t cap_ = 0;
  bool discarding_ = false;
};

inline bool LineIn::append(const char* p, size_t n) {
  if (len_ + n > cap_) {
    size_t ncap = cap_ ? cap_ : 128;
    while (ncap < len_ + n) ncap *= 2;
    char* nb = static_cast<char*>(std::realloc(buf_, ncap));
    if (!nb) return false;
    buf_ = nb;
    cap_ = static_cast<uint32_t>(ncap);
  }
  std::memcpy(buf_ + len_, p, n);
  len_ += static_cast<uint32_t>(n);
  return true;
}

template <typename OnLine, typename OnTooLong>
bool LineIn::feed(const char* p, size_t n, size_t max, OnLine on_line, OnTooLong on_too_long, size_t* used) {
  // A line may hold max bytes plus "\r" before its "\n".
  const size_t limit = max + 1;
  const char* const start = p;
  if (used) *used = n;
  while (n > 0) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
    if (discarding_) {
      if (!nl) return true;
      discarding_ = false;
      n -= static_cast<size_t>(nl + 1 - p);
      p = nl + 1;
      continue;
    }
    if (!nl) {
      if (len_ + n > limit) {
        reset();
        discarding_ = true;
        return on_too_long();
      }
      return append(p, n);
    }
    size_t seg = static_cast<size_t>(nl - p);
    std::string_view line;
    bool too_long = false;
    if (len_ > 0) {
      if (len_ + seg > limit) {
        too_long = true;
      } else {
        if (!append(p, seg)) return false;
        line = std::string_view(buf_, len_);
      }
    } else {
      line = std::string_view(p, seg);
    }
    n -= seg + 1;
    p = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max) too_long = true;
    bool go = too_long ? on_too_long() : on_line(line);
    if (len_ > 0) reset();
    if (!go) {
      if (used) *used = static_cast<size_t>(p - start);
      return false;
    }
  }
  return true;
}

}  // namespace ep
