// One ordered queue of timed events for the whole machine.
//
// Events are ordered by (time, priority, insertion sequence): equal times break by the named
// priority, then first-in first-out, so the order never depends on pointers or hashing.
// Scheduling in the past is a simulator bug (SIM_ASSERT). Cancelling is O(log n) through the
// handle. The queue never reads a clock: the scheduler pops what is due at a time it chooses.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <tuple>

#include "sim/core/virtual_time.h"

namespace hvsim {

// Named priorities for events due at the same virtual time; lower runs first.
enum class EventPriority : uint8_t {
  kHost = 10,       // host-side model work (timers expiring, device completions)
  kScenario = 20,   // scripted scenario actions, after the models they may race with
  kWatchdog = 90,   // run-ending checks, after everything else due at that time
};

class EventQueue {
 public:
  using Action = std::function<void()>;
  struct Handle { uint64_t seq = 0; };

  // Schedules `action` at time `at` (must not be before now()).
  Handle schedule(VirtualTime at, EventPriority prio, Action action);
  // Cancels a pending event; false if it already ran or was cancelled.
  bool cancel(Handle h);
  // Time of the earliest pending event.
  std::optional<VirtualTime> next_time() const;
  // Advances now() to t and runs every event due at or before t, in order (including events
  // that running ones schedule at or before t). Returns how many ran.
  size_t run_until(VirtualTime t);
  VirtualTime now() const { return now_; }
  size_t size() const { return events_.size(); }

 private:
  using Key = std::tuple<VirtualTime, EventPriority, uint64_t>;
  std::map<Key, Action> events_;
  std::map<uint64_t, Key> by_seq_;
  uint64_t next_seq_ = 1;
  VirtualTime now_;
};

}  // namespace hvsim
