// Reading and writing little-endian fields of a packet payload in device-model unit tests:
// get<T>(bytes, offset) and put<T>(bytes, offset, value). An offset past the end is a test
// failure (EXPECT / ASSERT), never an out-of-bounds access.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace hvsim::test {

using Bytes = std::vector<uint8_t>;

template <typename T> T get(const Bytes& b, size_t off) {
  T v{};
  EXPECT_LE(off + sizeof v, b.size());
  if (off + sizeof v <= b.size()) std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

template <typename T> void put(Bytes& b, size_t off, T v) {
  ASSERT_LE(off + sizeof v, b.size());
  std::memcpy(b.data() + off, &v, sizeof v);
}

}  // namespace hvsim::test
