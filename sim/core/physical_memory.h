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

  // `gpa` starts a 4 KiB page that lies in memory (memory is contiguous from GPA 0, so its last
  // byte being readable is enough).
  bool holds_page(uint64_t gpa) {
    uint8_t probe = 0;
    return gpa % 4096 == 0 && read(gpa + 4095, &probe, 1);
  }
};

}  // namespace hvsim
