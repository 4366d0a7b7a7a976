#include "models/vmbus/monitor.h"

#include <algorithm>

namespace hvsim::vmbus {

MonitorPages::MonitorPages(PhysicalMemory& mem, uint64_t parent_to_child_gpa, uint64_t child_to_parent_gpa,
                           VirtualTime latency)
    : mem_(mem),
      p2c_(parent_to_child_gpa),
      c2p_(child_to_parent_gpa),
      latency_100ns_(static_cast<uint16_t>(std::min<uint64_t>(latency.ps() / 100000, UINT16_MAX))) {
  usable_ = p2c_ != 0 && c2p_ != 0 && p2c_ != c2p_ && mem_.holds_page(p2c_) && mem_.holds_page(c2p_);
}

std::optional<uint8_t> MonitorPages::allocate(uint32_t connection_id) {
  if (!usable_) return std::nullopt;
  unsigned id = 0;
  while (id < kIds && allocated_[id]) ++id;
  if (id == kIds) return std::nullopt;
  claim(static_cast<uint8_t>(id), connection_id);
  return static_cast<uint8_t>(id);
}

void MonitorPages::claim(uint8_t id, uint32_t connection_id) {
  if (!usable_ || id >= kIds) return;
  allocated_[id] = true;
  released_[id] = false;
  const unsigned group = id / 32, bit = id % 32;
  uint32_t state = 0;
  mem_.read(c2p_ + kTriggerStateOffset, &state, sizeof state);
  write_u32(c2p_ + kTriggerStateOffset, state | (1u << group));
  uint8_t param[8] = {};
  std::copy_n(reinterpret_cast<const uint8_t*>(&connection_id), 4, param);  // flag_number 0
  mem_.write(c2p_ + kParameterOffset + 8 * (group * 32 + bit), param, sizeof param);
  for (uint64_t page : {p2c_, c2p_}) mem_.write(page + kLatencyOffset + 2 * (group * 32 + bit), &latency_100ns_, 2);
}

void MonitorPages::release(uint8_t id) {
  if (id < kIds && allocated_[id]) {
    allocated_[id] = false;
    released_[id] = true;
  }
}

MonitorPages::Scan MonitorPages::scan() {
  Scan out;
  if (!usable_) return out;
  uint32_t state = 0;
  if (!mem_.read(c2p_ + kTriggerStateOffset, &state, sizeof state)) return out;
  for (unsigned g = 0; g < 4; ++g) {
    if (!(state & (1u << g))) continue;
    uint64_t at = c2p_ + kTriggerGroupOffset + 8 * g;
    uint32_t pending = 0;
    if (!mem_.read(at, &pending, sizeof pending) || pending == 0) continue;
    write_u32(at, 0);  // the host consumes the bits (the guest only ever sets them)
    for (unsigned b = 0; b < 32; ++b) {
      if (!(pending & (1u << b))) continue;
      unsigned id = g * 32 + b;
      if (allocated_[id]) out.ids.push_back(static_cast<uint8_t>(id));
      else if (!released_[id]) ++out.stray_bits;
    }
  }
  return out;
}

}  // namespace hvsim::vmbus
