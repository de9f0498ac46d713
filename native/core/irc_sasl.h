// SASL PLAIN over IRC's AUTHENTICATE command (IRCv3 sasl-3.1/3.2): the client names the mechanism,
// the server answers "AUTHENTICATE +", the client sends its base64 response in chunks of 400 bytes
// (a chunk of exactly 400 means more follows; "+" is an empty chunk) or "*" to abort. This collects
// and decodes the response; checking the password is the host's job.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace ep::irc {

class SaslPlain {
 public:
  enum class Result : uint8_t {
    Continue,    // send "AUTHENTICATE +" (after the mechanism) or wait for the next chunk
    BadMech,     // 908 RPL_SASLMECHS then 904
    Ready,       // the credentials are in authcid()/password(): ask the host
    Aborted,     // 906 ERR_SASLABORTED
    TooLong,     // 905 ERR_SASLTOOLONG
    Failed,      // 904 ERR_SASLFAIL: malformed response
  };
  // The response may not exceed this (decoded: authzid, authcid and password with two NULs).
  static constexpr size_t kMaxResponse = 1024;

  // One AUTHENTICATE parameter.
  Result feed(std::string_view param);
  // True between the mechanism and the end of the response.
  bool in_progress() const { return step_ != Step::Idle; }
  void reset();

  const std::string& authzid() const { return authzid_; }
  const std::string& authcid() const { return authcid_; }
  const std::string& password() const { return password_; }
  // Wipes the password once the host has it.
  void forget_password();

 private:
  enum class Step : uint8_t { Idle, Data };
  Result finish();
  Step step_ = Step::Idle;
  std::string b64_;
  std::string authzid_, authcid_, password_;
};

}  // namespace ep::irc
