#include "ws_codec.h"

#include "text.h"

namespace ep {

std::string repair_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    // The longest valid sequence starting at i (1-4 bytes), or 0.
    size_t ok = 0;
    for (size_t len = 1; len <= 4 && i + len <= s.size(); ++len) {
      ws::Utf8Stream u;
      if (!u.feed(reinterpret_cast<const uint8_t*>(s.data() + i), len)) break;
      if (u.complete()) {
        ok = len;
        break;
      }
    }
    if (ok) {
      out.append(s.data() + i, ok);
      i += ok;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

namespace {

// A repaired line (each bad byte now three) cut back to max_body bytes after its tags ("@... "), at a
// character boundary.
void fit(std::string& line, size_t max_body) {
  if (!max_body) return;
  size_t tags = 0;
  if (!line.empty() && line[0] == '@') {
    size_t sp = line.find(' ');
    if (sp != std::string::npos) tags = sp + 1;
  }
  if (line.size() - tags <= max_body) return;
  line.resize(tags + text::utf8_prefix(std::string_view(line).substr(tags), max_body).size());
}

void frame_line(ws::Opcode op, std::string_view line, std::string& s, ws::Deflate* deflate, size_t min) {
  if (deflate && line.size() >= min) {
    static thread_local std::string z;  // the compressed line, reused
    if (deflate->compress(line, &z) && z.size() < line.size()) {
      ws::append_header(op, z.size(), &s, true);
      s.append(z);
      return;
    }
  }
  ws::append_frame(op, line, &s);
}

}  // namespace

void append_frames(std::string_view lines, ws::Opcode op, std::string& s, size_t max_body, ws::Deflate* deflate,
                   size_t min) {
  while (!lines.empty()) {
    size_t nl = lines.find('\n');
    std::string_view line = lines.substr(0, nl);
    lines = nl == std::string_view::npos ? std::string_view() : lines.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (op == ws::Opcode::Text) {
      ws::Utf8Stream u;
      if (!u.feed(reinterpret_cast<const uint8_t*>(line.data()), line.size()) || !u.complete()) {
        std::string repaired = repair_utf8(line);
        fit(repaired, max_body);
        frame_line(op, repaired, s, deflate, min);
        continue;
      }
    }
    frame_line(op, line, s, deflate, min);
  }
}

void WsCodec::append(const Out& o, std::string& s) const {
  lines_.clear();
  inner_.append(o, lines_);
  append_frames(lines_, op_, s, max_body_, deflate_, min_);
}

void WsCodec::append_wire(std::string_view lines, std::string& s) const {
  append_frames(lines, op_, s, max_body_, deflate_, min_);
}

}  // namespace ep
