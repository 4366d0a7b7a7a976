// Withheld and delayed host messages (response_control.h).
#include "models/vmbus/response_control.h"

#include <algorithm>

namespace hvsim::vmbus {

void ResponseControl::withhold(uint32_t type, uint32_t count) {
  if (count == 0) withhold_.erase(type);
  else withhold_[type] = count;
}

void ResponseControl::delay(uint32_t type, VirtualTime by, uint32_t count) {
  if (count == 0) delay_.erase(type);
  else delay_[type] = Delay{by, count};
}

void ResponseControl::clear(uint32_t type) {
  withhold_.erase(type);
  delay_.erase(type);
}

void ResponseControl::clear_all() {
  withhold_.clear();
  delay_.clear();
}

bool ResponseControl::take_one(uint32_t& count) {
  if (count == 0) return false;
  if (count != kUntilCleared) --count;
  return true;
}

ResponseControl::Verdict ResponseControl::decide(uint32_t type, VirtualTime now, VirtualTime& until) {
  if (auto w = withhold_.find(type); w != withhold_.end()) {
    bool hit = take_one(w->second);
    if (w->second == 0) withhold_.erase(w);
    if (hit) return Verdict::kWithhold;
  }
  if (auto d = delay_.find(type); d != delay_.end()) {
    VirtualTime by = d->second.by;
    bool hit = take_one(d->second.count);
    if (d->second.count == 0) delay_.erase(d);
    if (hit) {
      until = by.ps() > VirtualTime::max().ps() - now.ps() ? VirtualTime::max() : now + by;
      if (!held_.empty()) until = std::max(until, held_.back().until);  // order among held ones
      return Verdict::kDelay;
    }
  }
  return Verdict::kSend;
}

bool ResponseControl::hold(std::span<const uint8_t> msg, VirtualTime until) {
  if (held_.size() >= kHeldDepth) return false;
  held_.push_back(Held{until, {msg.begin(), msg.end()}});
  return true;
}

std::vector<std::vector<uint8_t>> ResponseControl::release(VirtualTime now) {
  std::vector<std::vector<uint8_t>> out;
  while (!held_.empty() && held_.front().until <= now) {
    out.push_back(std::move(held_.front().msg));
    held_.pop_front();
  }
  return out;
}

std::optional<VirtualTime> ResponseControl::next_release() const {
  if (held_.empty()) return std::nullopt;
  return held_.front().until;
}

size_t ResponseControl::drop_held() {
  size_t n = held_.size();
  held_.clear();
  return n;
}

}  // namespace hvsim::vmbus
