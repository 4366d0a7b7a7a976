// The narrow guest-physical memory interface the CPU layer's architectural helpers (page walks,
// interrupt frames) use, so they can be tested over a flat buffer. Accesses outside memory fail.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hvsim {

class PhysicalMemory {
 public:
  virtual ~PhysicalMemory() = default;
  virtual bool read(uint64_t gpa, void* dst, size_t len) = 0;
  virtual bool write(uint64_t gpa, const void* src, size_t len) = 0;
};

}  // namespace hvsim
