#include "static_path.h"

#include "http_request.h"

namespace ep::http {

namespace {

constexpr size_t kMaxPath = 1024;

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Drops "scheme://authority" from an absolute-form target, leaving its path ("" if none).
std::string_view path_of(std::string_view t) {
  size_t skip = 0;
  if (t.size() >= 7 && iequals(t.substr(0, 7), "http://")) skip = 7;
  else if (t.size() >= 8 && iequals(t.substr(0, 8), "https://")) skip = 8;
  if (!skip) return t;
  size_t slash = t.find_first_of("/?#", skip);
  return slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
}

}  // namespace

StaticPath map_static_path(std::string_view root, std::string_view target) {
  StaticPath r;
  std::string_view p = path_of(target);
  size_t cut = p.find_first_of("?#");
  if (cut != std::string_view::npos) p = p.substr(0, cut);
  if (p.empty() || p[0] != '/') {
    r.status = 400;
    return r;
  }
  std::string decoded;
  decoded.reserve(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '%') {
      int hi = i + 2 < p.size() ? hex(p[i + 1]) : -1;
      int lo = i + 2 < p.size() ? hex(p[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        r.status = 400;
        return r;
      }
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '\\') {
      r.status = 400;
      return r;
    }
    decoded += c;
  }
  if (decoded.size() > kMaxPath) {
    r.status = 414;
    return r;
  }
  std::string rel;
  size_t i = 0;
  while (i < decoded.size()) {
    size_t j = decoded.find('/', i);
    if (j == std::string::npos) j = decoded.size();
    std::string_view seg(decoded.data() + i, j - i);
    i = j + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg[0] == '.') {
      r.status = 404;
      return r;
    }
    if (!rel.empty()) rel += '/';
    rel.append(seg.data(), seg.size());
  }
  bool dir = decoded.back() == '/' || rel.empty() ||
             (decoded.size() >= 2 && decoded.compare(decoded.size() - 2, 2, "/.") == 0);
  if (dir) rel += rel.empty() ? "index.html" : "/index.html";
  r.path.reserve(root.size() + 1 + rel.size());
  r.path.append(root.data(), root.size());
  r.path += '/';
  r.path += rel;
  return r;
}

std::string_view mime_type(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  std::string_view ext = name.substr(dot + 1);
  static const struct {
    const char* ext;
    const char* type;
  } kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"ico", "image/x-icon"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"webmanifest", "application/manifest+json"},
      {"woff2", "font/woff2"},
  };
  for (const auto& t : kTypes)
    if (iequals(ext, t.ext)) return t.type;
  return "application/octet-stream";
}

}  // namespace ep::http
