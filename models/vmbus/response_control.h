// Response control for fault injection: the host withholds (drops) or delays the next N host
// messages of a given type (VERSION_RESPONSE, OFFERCHANNEL, OPENCHANNEL_RESULT, GPADL_CREATED, ...).
//
// Rules: withholding wins over delaying when both are set for a type. A delayed message is held
// until now + `by`, but never overtakes an earlier held one (held messages leave in the order
// they were held); messages that are not delayed go out at once, overtaking held ones. Counts
// decrease by one per affected message; kUntilCleared never runs out. clear() affects messages
// sent later only: held ones still leave at their time. Bounded: at most kHeldDepth messages
// are held (the host drops and traces the rest).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "sim/core/virtual_time.h"

namespace hvsim::vmbus {

class ResponseControl {
 public:
  static constexpr uint32_t kUntilCleared = UINT32_MAX;
  static constexpr size_t kHeldDepth = 256;

  void withhold(uint32_t type, uint32_t count);
  void delay(uint32_t type, VirtualTime by, uint32_t count);
  void clear(uint32_t type);
  void clear_all();

  enum class Verdict { kSend, kWithhold, kDelay };
  // What happens to a host message of `type` sent at `now` (consumes one count). For kDelay,
  // `until` is when it may leave.
  Verdict decide(uint32_t type, VirtualTime now, VirtualTime& until);
  // Holds a message until `until` (already ordered by decide). False if kHeldDepth are held.
  bool hold(std::span<const uint8_t> msg, VirtualTime until);
  // Removes and returns the held messages due at `now`, in order.
  std::vector<std::vector<uint8_t>> release(VirtualTime now);
  std::optional<VirtualTime> next_release() const;
  size_t held() const { return held_.size(); }
  // Forgets held messages (disconnect); returns how many.
  size_t drop_held();

 private:
  struct Delay { VirtualTime by; uint32_t count; };
  struct Held { VirtualTime until; std::vector<uint8_t> msg; };
  static bool take_one(uint32_t& count);  // false when none is left
  std::map<uint32_t, uint32_t> withhold_;  // type -> messages left to drop
  std::map<uint32_t, Delay> delay_;        // type -> delay and messages left to delay
  std::deque<Held> held_;
};

}  // namespace hvsim::vmbus
