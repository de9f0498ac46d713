#include "static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace ep {

namespace {

// Closes a descriptor on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

StaticFiles::~StaticFiles() {
  for (auto& kv : cache_) kv.second.body->unref();
}

StaticFiles::File StaticFiles::get(const std::string& path) {
  File f;
  Fd fd{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
  if (fd.fd < 0) {
    f.status = errno == EMFILE || errno == ENFILE || errno == ENOMEM ? 503 : 404;
    f.why = f.status == 503 ? "out of descriptors" : "no such file";
    return f;
  }
  struct stat st;
  if (::fstat(fd.fd, &st) != 0) {
    f.status = 500;
    f.why = "cannot stat the file";
    return f;
  }
  if (!S_ISREG(st.st_mode)) {
    f.status = 404;
    f.why = "not a file";
    return f;
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
    f.status = 500;
    f.why = "file too large to serve";
    return f;
  }
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  f.mtime_s = static_cast<int64_t>(st.st_mtim.tv_sec);
  auto it = cache_.find(path);
  if (it != cache_.end()) {
    Entry& e = it->second;
    if (e.dev == st.st_dev && e.ino == st.st_ino && e.size == static_cast<uint64_t>(st.st_size) &&
        e.mtime_ns == mtime_ns) {
      e.body->ref();
      f.body = e.body;
      return f;
    }
    cached_bytes_ -= e.body->len;
    e.body->unref();
    cache_.erase(it);
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t r = ::read(fd.fd, &data[got], data.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;  // an error, or the file shrank: serve nothing rather than a torn file
    got += static_cast<size_t>(r);
  }
  if (got != data.size()) {
    f.status = 500;
    f.why = "cannot read the file";
    return f;
  }
  Buf* b = Buf::make(data.data(), data.size());
  if (!b) {
    f.status = 503;
    f.why = "out of memory";
    return f;
  }
  if (cached_bytes_ + data.size() <= kMaxCacheBytes) {
    b->ref();
    cache_.emplace(path, Entry{b, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                               static_cast<uint64_t>(st.st_size), mtime_ns});
    cached_bytes_ += data.size();
  }
  f.body = b;
  return f;
}

std::string http_date(int64_t unix_s) {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return "Thu, 01 Jan 1970 00:00:00 GMT";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace ep
