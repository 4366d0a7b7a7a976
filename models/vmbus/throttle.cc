#include "models/vmbus/throttle.h"

namespace hvsim::vmbus {

bool ThrottleCounter::count(uint32_t relid, VirtualTime now, const ThrottlePolicy& p) {
  if (p.threshold == 0) return false;
  Window& w = windows_[relid];
  if (w.count == 0 || now >= w.start + p.window) {
    w.start = now;
    w.count = 0;
  }
  if (++w.count <= p.threshold) return false;
  w.count = 0;
  return true;
}

uint32_t ThrottleCounter::in_window(uint32_t relid) const {
  auto it = windows_.find(relid);
  return it == windows_.end() ? 0 : it->second.count;
}

}  // namespace hvsim::vmbus
