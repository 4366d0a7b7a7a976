// Interrupt throttling of a guest that signals the host without need (PROTOCOL.md §8.1; Linux
// Documentation/virt/hyperv/vmbus.rst: "If a guest sends an excessive number of unnecessary
// interrupts, the host may throttle that guest by suspending its execution for a few seconds").
//
// No public source gives Hyper-V's numbers, so the policy is hvsim's own and configurable:
// more than `threshold` unnecessary signals on one channel within a fixed `window` suspends the
// VP that sent the last one for `suspend`. Defaults: 256 signals in 10 ms, suspended for 2 s of
// virtual time — far above what a correct Linux guest produces in races (a few), well below a
// guest that signals on every write of a busy ring. threshold 0 disables throttling.
#pragma once

#include <cstdint>
#include <map>

#include "sim/core/virtual_time.h"

namespace hvsim::vmbus {

struct ThrottlePolicy {
  uint32_t threshold = 256;
  VirtualTime window = VirtualTime::from_ms(10);
  VirtualTime suspend = VirtualTime::from_ms(2000);
};

class ThrottleCounter {
 public:
  // Counts one unnecessary signal on `relid` at `now`; true when the threshold is crossed (the
  // count then starts again).
  bool count(uint32_t relid, VirtualTime now, const ThrottlePolicy& p);
  // Unnecessary signals in the current window of `relid`.
  uint32_t in_window(uint32_t relid) const;
  void forget(uint32_t relid) { windows_.erase(relid); }

 private:
  struct Window { VirtualTime start; uint32_t count = 0; };
  std::map<uint32_t, Window> windows_;
};

}  // namespace hvsim::vmbus
