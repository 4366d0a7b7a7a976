#include "sim/core/event_queue.h"

#include "sim/core/status.h"

namespace hvsim {

EventQueue::Handle EventQueue::schedule(VirtualTime at, EventPriority prio, Action action) {
  SIM_ASSERT(at >= now_, "event scheduled in the past");
  uint64_t seq = next_seq_++;
  Key key{at, prio, seq};
  events_.emplace(key, std::move(action));
  by_seq_.emplace(seq, key);
  return Handle{seq};
}

bool EventQueue::cancel(Handle h) {
  auto it = by_seq_.find(h.seq);
  if (it == by_seq_.end()) return false;
  events_.erase(it->second);
  by_seq_.erase(it);
  return true;
}

std::optional<VirtualTime> EventQueue::next_time() const {
  if (events_.empty()) return std::nullopt;
  return std::get<0>(events_.begin()->first);
}

size_t EventQueue::run_until(VirtualTime t) {
  SIM_ASSERT(t >= now_, "time moved backwards");
  size_t ran = 0;
  while (!events_.empty() && std::get<0>(events_.begin()->first) <= t) {
    auto first = events_.begin();
    Key key = first->first;
    Action action = std::move(first->second);
    events_.erase(first);
    by_seq_.erase(std::get<2>(key));
    now_ = std::get<0>(key);
    action();
    ++ran;
  }
  now_ = t;
  return ran;
}

}  // namespace hvsim
