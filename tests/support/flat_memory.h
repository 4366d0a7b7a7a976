// A flat guest-physical memory for unit tests of the CPU layer's architectural helpers.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "sim/core/physical_memory.h"

namespace hvsim::test {

class FlatMemory final : public PhysicalMemory {
 public:
  explicit FlatMemory(size_t size) : bytes_(size, 0) {}
  bool read(uint64_t gpa, void* dst, size_t len) override {
    if (gpa > bytes_.size() || len > bytes_.size() - gpa) return false;
    std::memcpy(dst, bytes_.data() + gpa, len);
    return true;
  }
  bool write(uint64_t gpa, const void* src, size_t len) override {
    if (gpa > bytes_.size() || len > bytes_.size() - gpa) return false;
    std::memcpy(bytes_.data() + gpa, src, len);
    return true;
  }
  template <typename T> void put(uint64_t gpa, T v) { ASSERT_TRUE(write(gpa, &v, sizeof v)); }
  template <typename T> T get(uint64_t gpa) const {
    T v{};
    if (gpa <= bytes_.size() && sizeof v <= bytes_.size() - gpa) std::memcpy(&v, bytes_.data() + gpa, sizeof v);
    return v;
  }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace hvsim::test
