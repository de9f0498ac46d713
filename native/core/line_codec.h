// The epchat line protocol (docs/protocol.md): `nick: text`, `>> notice`, `!! CODE text`, `== KIND …`.
#pragma once
#include "codec.h"

namespace ep {

class LineCodec final : public Codec {
 public:
  int id() const override { return 0; }
  void append(const Out& o, std::string& s) const override;
  Request parse(std::string_view line) const override;
};

}  // namespace ep
