// Shared, reference-counted output buffers.
//
// A message fanned out to a room is formatted once into a Buf; every recipient's output queue holds a
// reference to it, so a room of N members costs one allocation and N pointer pushes, not N copies.
// Reference counts are plain integers: buffers live and die on the engine thread only.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ep {

struct Buf {
  uint32_t refs;
  uint32_t len;
  char data[1];  // len bytes follow (allocated with the header)

  // Copies len bytes into a new buffer holding one reference. Returns nullptr on allocation failure.
  static Buf* make(const char* bytes, size_t len);
  void ref() { ++refs; }
  void unref();
};

}  // namespace ep
