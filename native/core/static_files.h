// The HTTP listener's files: the web client under the web root, read into shared buffers.
//
// A file is opened with O_NOFOLLOW (a symbolic link as the last component is refused) and served
// only if it is a regular file of at most kMaxFileBytes (the web client's files are far smaller;
// a bigger one is refused rather than held in memory). Each file read is kept in a ref-counted Buf
// (buf.h), so every response of it queues the same bytes; the cache entry is checked against the
// file's fstat (device, inode, size, modification time) on each request, so a rebuilt web client is
// served at once without a restart. The cache holds at most kMaxCacheBytes; past it, files are
// still served, read per request. Paths are checked beforehand by map_static_path (static_path.h):
// no "..", no hidden names.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "buf.h"

namespace ep {

class StaticFiles {
 public:
  static constexpr size_t kMaxFileBytes = 4u << 20;
  static constexpr size_t kMaxCacheBytes = 16u << 20;

  StaticFiles() = default;
  ~StaticFiles();
  StaticFiles(const StaticFiles&) = delete;
  StaticFiles& operator=(const StaticFiles&) = delete;

  struct File {
    int status = 0;         // 0: found; else 404 (missing, not a regular file, a link) or 500
    const char* why = "";   // for an error's body
    Buf* body = nullptr;    // one reference for the caller (status 0)
    int64_t mtime_s = 0;    // for Last-Modified
  };
  // The file at path (already mapped under the root).
  File get(const std::string& path);

 private:
  struct Entry {
    Buf* body;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
  };
  std::unordered_map<std::string, Entry> cache_;
  size_t cached_bytes_ = 0;
};

// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 IMF-fixdate).
std::string http_date(int64_t unix_s);

}  // namespace ep
