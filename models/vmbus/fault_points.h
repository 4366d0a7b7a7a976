// Seeded fault points of the VMBus host (FoundationDB's BUGGIFY, made deterministic): named
// places where the host misbehaves on purpose with probability num/den, each drawing from its own
// stream RngStream(seed, "fault/<point>") so arming one point never perturbs another or the rest
// of the run. A disarmed point never draws. Points:
//   drop_signal  a host->guest channel interrupt (SIEF flag) is skipped
//   delay_drain  a drain scheduled by a guest signal starts later by 1..100 x the host latency
//   busy_outbox  the SynIC is treated as busy for one delivery attempt of a host message (each
//                message at most once: it goes out at the next retry)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sim/core/rng.h"

namespace hvsim::vmbus {

enum class FaultPoint : uint8_t { kDropSignal, kDelayDrain, kBusyOutbox, kCount };
const char* fault_point_name(FaultPoint p);  // "drop_signal"

class FaultPoints {
 public:
  // Arms `point` with probability num/den (num 0 disarms it). False with `error` set for an
  // unknown point (naming the valid ones), den 0 or num > den.
  bool set(std::string_view point, uint32_t num, uint32_t den, uint64_t seed, std::string& error);
  void clear() { armed_ = {}; }
  bool armed(FaultPoint p) const { return armed_[static_cast<size_t>(p)].has_value(); }
  // One roll of `p`: true when the fault happens (always false while disarmed, drawing nothing).
  bool fires(FaultPoint p);
  // Uniform in [lo, hi] from `p`'s stream (for the amount of a fault that fired); lo if disarmed.
  uint64_t draw(FaultPoint p, uint64_t lo, uint64_t hi);

 private:
  struct Armed {
    uint32_t num;
    uint32_t den;
    RngStream rng;
  };
  std::array<std::optional<Armed>, static_cast<size_t>(FaultPoint::kCount)> armed_;
};

}  // namespace hvsim::vmbus
