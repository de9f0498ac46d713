// Static files for the HTTP listener: which file under the web root a request target names, and
// the Content-Type to serve it with. Pure string work; opening the file is the listener's job (it
// should open with O_NOFOLLOW and serve regular files only: this maps names, it cannot see links).
#pragma once
#include <string>
#include <string_view>

namespace ep::http {

struct StaticPath {
  int status = 0;     // 0 when mapped; else 400 (malformed), 404 (a name never served), 414 (too long)
  std::string path;   // root + "/" + the decoded, checked relative path
};

// Maps a request target to a file under root (root is used as given, without a trailing '/').
//   - absolute-form ("http://host/p") is reduced to its path; the query ("?...") and a fragment
//     ("#...") are dropped;
//   - the path is percent-decoded once (a '%' not followed by two hex digits is 400), then split on
//     '/': empty and "." segments are dropped; a segment starting with '.' (so "..", ".git",
//     ".env", also as "%2e%2e") is 404 (nothing under the root is hidden and served, and nothing
//     above it is reachable); a decoded NUL, control byte or '\\' is 400;
//   - a path that ends in '/' (including "/") gets "index.html";
//   - a decoded path longer than 1024 bytes is 414.
// The result never leaves root: every segment is a plain name.
StaticPath map_static_path(std::string_view root, std::string_view target);

// The Content-Type for a file name, by extension (ASCII case-insensitive): html/htm, js/mjs, css,
// svg, png, ico, json, map, txt, webmanifest, woff2; application/octet-stream otherwise. Text types
// carry "; charset=utf-8".
std::string_view mime_type(std::string_view path);

}  // namespace ep::http
