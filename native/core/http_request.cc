#include "http_request.h"

#include <cstring>

namespace ep::http {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Methods this server knows but does not serve (RFC 9110 §9, RFC 5789): 405, not 501.
const char* const kKnownMethods[] = {"POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void RequestReader::fail(int status, const char* reason) {
  state_ = State::Error;
  status_ = status;
  reason_ = reason;
}

size_t RequestReader::feed(const char* p, size_t n) {
  if (state_ != State::NeedMore || n == 0) return 0;
  size_t old = buf_.size();
  size_t room = limits_.max_head > old ? limits_.max_head - old : 0;
  size_t take = n < room ? n : room;
  buf_.append(p, take);
  while (state_ == State::NeedMore && scanned_ < buf_.size()) {
    const void* nl = std::memchr(buf_.data() + scanned_, '\n', buf_.size() - scanned_);
    if (!nl) {
      scanned_ = buf_.size();
      break;
    }
    size_t end = static_cast<size_t>(static_cast<const char*>(nl) - buf_.data());
    scanned_ = end + 1;
    line(line_start_, end);
    line_start_ = end + 1;
  }
  if (state_ == State::Done) {
    buf_.resize(head_len_);  // what follows the head stays with the caller
    return head_len_ - old;
  }
  if (state_ == State::NeedMore) {
    size_t line_max = limits_.max_target + 32 < limits_.max_head ? limits_.max_target + 32 : limits_.max_head;
    if (!have_request_line_ && buf_.size() - line_start_ > line_max + 1)
      fail(414, "request line too long");
    else if (buf_.size() >= limits_.max_head)
      fail(431, "request head too large");
  }
  return take;
}

// A line buf_[start, end), end at its '\n'. The request line's length is checked before anything
// else in it, as feed() checks a request line still unfinished, so both see the same verdict.
void RequestReader::line(size_t start, size_t end) {
  if (!have_request_line_) {
    size_t line_max = limits_.max_target + 32 < limits_.max_head ? limits_.max_target + 32 : limits_.max_head;
    if (end - start > line_max + 1) return fail(414, "request line too long");
  }
  if (end == start || buf_[end - 1] != '\r') return fail(400, "line ending in a bare LF");
  size_t cend = end - 1;
  if (!have_request_line_) {
    if (cend == start) return;  // an empty line before the request line is skipped (RFC 9112 §2.2)
    return request_line(start, cend);
  }
  if (cend == start) {
    head_len_ = end + 1;
    return finish();
  }
  header_line(start, cend);
}

void RequestReader::request_line(size_t start, size_t end) {
  have_request_line_ = true;
  std::string_view l(buf_.data() + start, end - start);
  size_t sp1 = l.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return fail(400, "malformed request line");
  size_t sp2 = l.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return fail(400, "malformed request line");
  std::string_view method = l.substr(0, sp1), target = l.substr(sp1 + 1, sp2 - sp1 - 1), version = l.substr(sp2 + 1);
  for (char c : method)
    if (!is_tchar(static_cast<unsigned char>(c))) return fail(400, "malformed method");
  for (char c : target)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7E)
      return fail(400, "malformed request target");
  if (version == "HTTP/1.1") {
    version_ = Version::Http11;
  } else if (version == "HTTP/1.0") {
    version_ = Version::Http10;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && is_digit(version[5]) && version[6] == '.' &&
             is_digit(version[7])) {
    return fail(505, "HTTP version not supported");
  } else {
    return fail(400, "malformed HTTP version");
  }
  if (target.size() > limits_.max_target) return fail(414, "request target too long");
  if (method == "GET") {
    method_ = Method::Get;
  } else if (method == "HEAD") {
    method_ = Method::Head;
  } else {
    for (const char* m : kKnownMethods)
      if (method == m) return fail(405, "method not allowed");
    return fail(501, "method not implemented");
  }
  bool origin_form = target[0] == '/';
  bool absolute_form = (target.size() > 7 && iequals(target.substr(0, 7), "http://")) ||
                       (target.size() > 8 && iequals(target.substr(0, 8), "https://"));
  if (!origin_form && !absolute_form) return fail(400, "request target neither a path nor an http URL");
  method_span_ = {static_cast<uint32_t>(start), static_cast<uint32_t>(sp1)};
  target_span_ = {static_cast<uint32_t>(start + sp1 + 1), static_cast<uint32_t>(target.size())};
}

void RequestReader::header_line(size_t start, size_t end) {
  const char* l = buf_.data();
  if (l[start] == ' ' || l[start] == '\t') return fail(400, "folded or indented header line");
  size_t i = start;
  while (i < end && is_tchar(static_cast<unsigned char>(l[i]))) ++i;
  if (i == end || i == start) return fail(400, "malformed header line");
  if (l[i] == ' ' || l[i] == '\t') return fail(400, "whitespace before a header's colon");
  if (l[i] != ':') return fail(400, "malformed header name");
  Span name{static_cast<uint32_t>(start), static_cast<uint32_t>(i - start)};
  for (size_t k = i + 1; k < end; ++k) {
    unsigned char c = static_cast<unsigned char>(l[k]);
    if ((c < 0x20 && c != '\t') || c == 0x7F) return fail(400, "control character in a header value");
  }
  std::string_view raw(l + i + 1, end - i - 1);
  std::string_view v = trim_ows(raw);
  if (headers_.size() >= limits_.max_headers) return fail(431, "too many header lines");
  Span value{static_cast<uint32_t>(v.data() - l), static_cast<uint32_t>(v.size())};
  headers_.push_back({name, value});
}

void RequestReader::finish() {
  size_t hosts = header_count("Host");
  if (version_ == Version::Http11 && hosts != 1) return fail(400, hosts ? "more than one Host header" : "no Host header");
  if (hosts > 1) return fail(400, "more than one Host header");
  if (header_count("Content-Length") || header_count("Transfer-Encoding"))
    return fail(400, "a request body on GET or HEAD");
  state_ = State::Done;
}

std::string_view RequestReader::header(std::string_view name) const {
  for (const Header& h : headers_)
    if (iequals(view(h.name), name)) return view(h.value);
  return {};
}

size_t RequestReader::header_count(std::string_view name) const {
  size_t n = 0;
  for (const Header& h : headers_)
    if (iequals(view(h.name), name)) ++n;
  return n;
}

bool RequestReader::has_token(std::string_view name, std::string_view token) const {
  bool found = false;
  for_each_element(name, [&](std::string_view el) {
    found = iequals(el, token);
    return !found;
  });
  return found;
}

void RequestReader::reset() {
  state_ = State::NeedMore;
  status_ = 0;
  reason_ = "";
  std::string().swap(buf_);
  line_start_ = scanned_ = head_len_ = 0;
  have_request_line_ = false;
  method_ = Method::None;
  version_ = Version::None;
  method_span_ = target_span_ = {};
  headers_.clear();
  headers_.shrink_to_fit();
}

}  // namespace ep::http
