// The epchat line protocol (docs/protocol.md): `nick: text`, `>> notice`, `!! CODE text`, `== KIND …`.
#pragma once
#include <string>

#include "codec.h"

namespace ep {

class LineCodec final : public Codec {
 public:
  int id() const override { return 0; }
  Buf* format(const Out& o) override;
  Request parse(std::string_view line) const override;

 private:
  std::string scratch_;
};

}  // namespace ep
