#include "host_channel.h"

#include <cerrno>

namespace ep {

bool HostChannel::open() {
  if (!bridge_->ok()) {
    errno = EMFILE;
    return false;
  }
  reg_ = loop_.add(bridge_->wake_fd(), EPOLLIN, this);
  return reg_ != 0;
}

void HostChannel::on_io(uint32_t, void*) {
  std::vector<HostCmd> cmds = bridge_->take();
  run_(cmds);
}

}  // namespace ep
