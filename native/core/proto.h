// The wire protocols a connection can speak: its listener's, or the one adopt() was given.
#pragma once
#include <cstdint>

namespace ep {

enum class Proto : uint8_t { Line, Irc };

}  // namespace ep
