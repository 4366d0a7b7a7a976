// Guest RAM as the host models see it: the memory under any overlay page (the host's view), as
// the PhysicalMemory the sans-IO models take.
#pragma once

#include "sim/core/physical_memory.h"
#include "sim/mem/guest_memory.h"

namespace hvsim {

class RamAccess final : public PhysicalMemory {
 public:
  explicit RamAccess(GuestMemory& m) : m_(m) {}
  bool read(uint64_t gpa, void* dst, size_t len) override { return m_.read(gpa, dst, len); }
  bool write(uint64_t gpa, const void* src, size_t len) override { return m_.write(gpa, src, len); }

 private:
  GuestMemory& m_;
};

}  // namespace hvsim
