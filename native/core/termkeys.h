// What a terminal sends for keys that are not text. The admin console reads stdin in the terminal's
// line mode, so arrow keys, Home, function keys or Ctrl-A arrive inside the line as escape sequences
// and control bytes; they are keys, not part of a command, and are removed.
#pragma once
#include <string>
#include <string_view>

namespace ep {

// `line` without escape sequences (CSI `ESC [ … final`, SS3 `ESC O x`, OSC/DCS/PM/APC strings up to
// BEL or `ESC \`, `ESC x` for Alt-x, a lone ESC), C0 controls other than tab, DEL and C1 controls
// (U+0080-U+009F, as UTF-8; a C1 CSI `U+009B … final` whole). Everything else is kept byte for byte.
std::string strip_terminal_keys(std::string_view line);

}  // namespace ep
