// Byte-level checks on client text: UTF-8 validity, control characters, nick and room names.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ep::text {

enum class Check { Ok, BadUtf8, ControlChar, Spoof };

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) with no C0 control other
// than tab, no DEL and no C1 control: what may be forwarded to other people's terminals. Spoof: a
// bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069) or a line/paragraph
// separator (U+2028, U+2029), which would let a line display as something else (Trojan Source).
// Bad UTF-8 wins over a control character, which wins over Spoof.
Check check_line(std::string_view s);

// s without one leading byte-order mark (U+FEFF, EF BB BF), which some clients put before their
// first line; it is never forwarded.
std::string_view strip_bom(std::string_view s);

// True when valid UTF-8 s shows nothing: it is empty or holds only spaces and invisible characters
// (space, tab, U+00A0, U+1680, U+2000-U+200D, U+202F, U+205F, U+2060, U+3000, U+FEFF, U+2800, and
// the Hangul fillers U+115F, U+1160, U+3164, U+FFA0).
bool blank(std::string_view s);

// 1..max_len of [A-Za-z0-9_-], starting with a letter or '_'.
bool valid_nick(std::string_view s, size_t max_len);
// 1..32 of [A-Za-z0-9_-] (a leading '#' is stripped by the caller).
bool valid_room(std::string_view s);

std::string lower(std::string_view s);

// The longest prefix of s of at most max bytes that does not cut a UTF-8 sequence (s is assumed
// valid UTF-8; an invalid tail is cut like a sequence).
std::string_view utf8_prefix(std::string_view s, size_t max);

// A duration for people: "300 s", "1.5 s", "0.25 s" (milliseconds shown as seconds, no trailing zeros).
std::string seconds(uint64_t ms);

// Splits off the first word (leading blanks skipped); `rest` is everything after the one blank
// that ends it, verbatim, so message text keeps its spacing.
void split_word(std::string_view s, std::string_view* word, std::string_view* rest);
std::string_view trim(std::string_view s);

}  // namespace ep::text
