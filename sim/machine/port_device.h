// A device reached through x86 port I/O. It sees offsets inside its own port range only, never
// absolute port numbers (Firecracker's BusDevice rule). Handlers run inside CPU callbacks and must
// not throw; `size` is 1, 2 or 4 bytes.
#pragma once

#include <cstdint>

#include "sim/cpu/vcpu_exits.h"

namespace hvsim {

class PortDevice {
 public:
  virtual ~PortDevice() = default;
  virtual uint32_t io_in(VcpuContext& v, uint16_t offset, unsigned size) = 0;
  virtual void io_out(VcpuContext& v, uint16_t offset, unsigned size, uint32_t value) = 0;
};

}  // namespace hvsim
