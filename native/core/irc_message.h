// IRC messages as practised (RFC 1459/2812 framing with IRCv3 message tags): parsing one line a
// client sent, and writing one line to a client. Bytes only: no chat state, no sockets. The IRC
// protocol session (registration, commands, numerics) is built on this.
//
//   line    = [ "@" tags SPACE ] [ ":" source SPACE ] command *14( SPACE middle ) [ SPACE [":"] trailing ]
//   tags    = tag *( ";" tag ),  tag = [ "+" ] [ vendor "/" ] name [ "=" escaped-value ]
//
// Spaces between parts may repeat (clients and servers tolerate that). After 14 middle parameters
// the rest of the line is the last parameter, with or without ':' (RFC 2812). A line holds no NUL,
// CR or LF (framing removed the CRLF).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ep::irc {

constexpr size_t kMaxParams = 15;
// The message without tags: 512 bytes including CRLF (RFC 1459 2.3).
constexpr size_t kMaxBody = 510;
// The tags part including '@' and the space after it (IRCv3 message-tags: 8191 bytes in all, of
// which at most 4094 client-only tags from a client).
constexpr size_t kMaxTags = 8191;
constexpr size_t kMaxClientTags = 4094;

enum class ParseError : uint8_t {
  None,
  Empty,         // nothing but spaces
  BadByte,       // NUL, CR or LF inside the line
  TagsTooLong,   // the tags part exceeds kMaxClientTags
  BadTags,       // '@' with no tags, or a tag key outside the grammar
  BodyTooLong,   // the part after the tags exceeds kMaxBody
  NoCommand,     // a source with nothing after it
  BadCommand,    // not letters, nor exactly three digits
};

const char* error_name(ParseError e);

struct Message {
  std::string_view tags;     // the raw tags, without '@' (empty when none)
  std::string_view source;   // without ':' (empty when none)
  std::string_view command;  // as sent; compare with command_is()
  std::string_view params[kMaxParams];
  size_t nparams = 0;
  bool has_trailing = false;  // the last parameter came after ':' (it may be empty or hold spaces)
};

// Parses one line (without its CRLF). Every view in *m points into `line`.
ParseError parse(std::string_view line, Message* m);

// ASCII case-insensitive comparison with an upper-case command name ("PRIVMSG").
bool command_is(std::string_view cmd, std::string_view upper);

// Iterates the tags of a Message: each call takes the next tag off *rest; false when none is left.
struct Tag {
  std::string_view key;    // with its '+' client prefix and vendor, as sent
  std::string_view value;  // still escaped; unescape_tag_value() decodes it
  bool has_value = false;
};
bool next_tag(std::string_view* rest, Tag* t);
// True for a key in the grammar: [+][vendor/]name, name of A-Z a-z 0-9 '-', vendor a host name.
bool valid_tag_key(std::string_view key);
// IRCv3 escaping of tag values: "\:" ';'  "\s" ' '  "\\" '\'  "\r" CR  "\n" LF; a backslash before
// any other character is dropped, and a trailing lone backslash too.
std::string unescape_tag_value(std::string_view v);
void escape_tag_value(std::string_view v, std::string* out);

// A middle parameter: not empty, no space, does not start with ':'. Anything else must be sent as
// the trailing parameter.
bool valid_middle(std::string_view p);

// Builds one outgoing line into a string: tags, source, command, middles, then an optional trailing
// parameter, then CRLF. Methods must be called in that order.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  // Adds a tag (value escaped); the first one opens the "@" part.
  Writer& tag(std::string_view key, std::string_view value = {});
  Writer& source(std::string_view s);
  Writer& command(std::string_view c);
  // A middle parameter; the caller guarantees valid_middle(p).
  Writer& param(std::string_view p);
  // The last parameter, always written with ':' so that it may be empty or hold spaces.
  Writer& trailing(std::string_view p);
  // Ends the line with CRLF.
  void end();

 private:
  void close_tags();
  std::string* out_;
  bool in_tags_ = false;
};

// CTCP ACTION ("\x01ACTION waves\x01", the closing \x01 optional): true with the action's text.
bool ctcp_action(std::string_view text, std::string_view* action);
// Any other CTCP request or reply (text starting with \x01).
inline bool is_ctcp(std::string_view text) { return !text.empty() && text[0] == '\x01'; }

// mIRC formatting codes: bold ^B, colour ^C[fg[,bg]], hex colour ^D[rrggbb[,rrggbb]], reset ^O,
// monospace ^Q, reverse ^V, italic ^], strike-through ^^, underline ^_. Removes them (and their
// colour arguments) so that the text can reach someone whose protocol has no formatting.
std::string strip_formatting(std::string_view text);
// True when text holds one of those codes.
bool has_formatting(std::string_view text);

}  // namespace ep::irc
