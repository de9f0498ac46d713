// Byte-level checks on client text: UTF-8 validity, control characters, nick and room names.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace ep::text {

enum class Check { Ok, BadUtf8, ControlChar };

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) with no C0 control other
// than tab, no DEL and no C1 control: what may be forwarded to other people's terminals.
Check check_line(std::string_view s);

// 1..max_len of [A-Za-z0-9_-], starting with a letter or '_'.
bool valid_nick(std::string_view s, size_t max_len);
// 1..32 of [A-Za-z0-9_-] (a leading '#' is stripped by the caller).
bool valid_room(std::string_view s);

std::string lower(std::string_view s);

// Splits off the first word (leading blanks skipped); `rest` is everything after the one blank
// that ends it, verbatim, so message text keeps its spacing.
void split_word(std::string_view s, std::string_view* word, std::string_view* rest);
std::string_view trim(std::string_view s);

}  // namespace ep::text
