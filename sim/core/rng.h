// Seeded, named random streams.
//
// Every random choice in hvsim comes from a stream derived from (run seed, stream name), so adding
// a new stream never perturbs the others, and a run is repeatable from its seed alone. The
// generator (xoshiro256**) and the bounded draw (Lemire's multiply-shift with rejection) are
// implemented here rather than taken from <random>, whose distributions differ between standard
// libraries.
#pragma once

#include <cstdint>
#include <string_view>

namespace hvsim {

class RngStream {
 public:
  RngStream(uint64_t seed, std::string_view name);
  uint64_t next_u64();
  // Uniform in [0, bound); bound must be non-zero.
  uint64_t below(uint64_t bound);
  // Uniform in [lo, hi] inclusive.
  uint64_t between(uint64_t lo, uint64_t hi);
  // True with probability num/den.
  bool chance(uint64_t num, uint64_t den) { return below(den) < num; }

 private:
  uint64_t s_[4];
};

// FNV-1a 64-bit over bytes: the stable hash used for stream names and the trace hash.
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t fnv1a(std::string_view bytes, uint64_t h = kFnvOffset) {
  for (unsigned char c : bytes) { h ^= c; h *= 0x100000001b3ull; }
  return h;
}

}  // namespace hvsim
