#include "buf.h"

#include <cstdlib>
#include <cstring>

namespace ep {

Buf* Buf::make(const char* bytes, size_t len) {
  if (len > UINT32_MAX) return nullptr;
  Buf* b = static_cast<Buf*>(std::malloc(offsetof(Buf, data) + len));
  if (!b) return nullptr;
  b->refs = 1;
  b->len = static_cast<uint32_t>(len);
  std::memcpy(b->data, bytes, len);
  return b;
}

void Buf::unref() {
  if (--refs == 0) std::free(this);
}

}  // namespace ep
